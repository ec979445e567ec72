"""How a clinic reminds its patients, and the randomised comparisons a clinic lead runs between two ways of doing it.

A reminder strategy decides only what reaches the patient around the questionnaire (text reminders and their days,
whether the patient sees their own scores after submitting). Nothing clinical hangs on it: windows, scoring and
safety flags never read it (tests/outcomes/test_reminder_comparison.py proves it for an allocated patient).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from registry.history import HistoricalRecords

MAX_TEXT_REMINDERS = 2  # notifications has two reminder slots per follow-up and channel


def follow_up_window_days() -> int:
    """The length of a 1-, 6-, 12- or 24-month window: a text reminder later than this would never go."""
    return settings.FOLLOW_UP_OPENS_DAYS_BEFORE_DUE + settings.FOLLOW_UP_CLOSES_DAYS_AFTER_DUE


def validate_text_reminder_days(value) -> None:
    window = follow_up_window_days()
    if not isinstance(value, list) or len(value) > MAX_TEXT_REMINDERS:
        raise ValidationError(f"Give up to {MAX_TEXT_REMINDERS} days, e.g. 7 and 12.")
    for day in value:
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= window:
            raise ValidationError(
                f"Each day must be a whole number from 1 to {window} (days after the questionnaire opens)."
            )
    if len(set(value)) != len(value):
        raise ValidationError("Give each day once.")


class ReminderStrategy(models.Model):
    """One way of reminding patients: a clinic's default, or one arm of a comparison. Fixed once used by a
    comparison (an arm must mean the same thing from its first patient to its last)."""

    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="reminder_strategies")
    name = models.CharField(max_length=80)
    text_reminders = models.BooleanField(
        default=True, help_text="Text the patients who agreed to texts and have not answered yet."
    )
    text_reminder_days = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_text_reminder_days],
        help_text="Days after the questionnaire opens, e.g. [7, 12]. Email always goes first.",
    )
    show_own_scores = models.BooleanField(
        default=True, help_text="After submitting, the patient may see their own scores over time."
    )
    is_clinic_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["clinic_id", "name", "id"]
        verbose_name_plural = "reminder strategies"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic"], condition=models.Q(is_clinic_default=True), name="one_default_strategy_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def texts_summary(self) -> str:
        days = sorted(self.text_reminder_days or [])
        if not self.text_reminders or not days:
            return "No text reminders"
        return "Text reminders on day " + " and ".join(str(d) for d in days)


class ComparisonArm(models.TextChoices):
    A = "a", "Arm A"
    B = "b", "Arm B"


class ReminderComparison(models.Model):
    """A randomised comparison of two reminder strategies in one clinic. Patients enrolled while it runs are
    allocated 1:1 in permuted blocks (outcomes.reminders.allocation_draw); stopping it ends allocation, and the
    allocated patients keep their arm's strategy until their follow-ups end."""

    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="reminder_comparisons")
    question = models.CharField(max_length=300, help_text="The question in plain words.")
    arm_a = models.ForeignKey(ReminderStrategy, on_delete=models.PROTECT, related_name="+")
    arm_b = models.ForeignKey(ReminderStrategy, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField(help_text="Patients enrolled from this day (clinic time) are allocated.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stop_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic"], condition=models.Q(stopped_at__isnull=True), name="one_running_comparison_per_clinic"
            ),
            models.CheckConstraint(condition=~models.Q(arm_a=models.F("arm_b")), name="comparison_arms_differ"),
            models.CheckConstraint(
                condition=models.Q(stopped_at__isnull=True) | ~models.Q(stop_reason=""),
                name="comparison_stop_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.question

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None

    def strategy_of(self, arm: str) -> ReminderStrategy:
        return self.arm_a if arm == ComparisonArm.A else self.arm_b


class AllocationChanged(Exception):
    """An allocation is never changed or removed: the comparison's numbers would no longer mean anything."""


class ReminderAllocation(models.Model):
    """A patient's arm, drawn once at enrolment. Written once and never changed (the model refuses, and a
    database trigger refuses an UPDATE or DELETE from anywhere else; migration 0013)."""

    comparison = models.ForeignKey(ReminderComparison, on_delete=models.PROTECT, related_name="allocations")
    patient = models.OneToOneField("registry.Patient", on_delete=models.PROTECT, related_name="reminder_allocation")
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="+")
    arm = models.CharField(max_length=1, choices=ComparisonArm.choices)
    # The arm's strategy, copied so the sweep joins one table to find a patient's text reminder days.
    strategy = models.ForeignKey(ReminderStrategy, on_delete=models.PROTECT, related_name="+")
    allocated_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=120)
    block = models.PositiveIntegerField(help_text="The permuted block's number within the comparison, from 1.")
    block_size = models.PositiveSmallIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["comparison_id", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(arm__in=ComparisonArm.values), name="allocation_arm_valid"),
        ]
        indexes = [models.Index(fields=["comparison", "block"], name="allocation_block")]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.get_arm_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AllocationChanged("An allocation cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AllocationChanged("An allocation cannot be removed.")

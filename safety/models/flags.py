"""Flags raised from patients' answers for the clinic to review, and the record that a submission was checked."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.history import HistoricalRecords
from safety.choices import (
    ACTIVE_STATUSES,
    MEASURE_LABELS,
    SAFETY_ITEM_LABELS,
    TRANSITIONS,
    WORSENING_SIGNAL_RULES,
    FlagKind,
    FlagRule,
    FlagStatus,
    flag_kind,
)

SUMMARY_TEXT_LENGTH = 120


def _number(value) -> str:
    return "—" if value is None else f"{round(value, 1):g}"


# A failing evaluation is retried (by the task, then by the sweep) this many times before it waits for a person.
MAX_EVALUATION_ATTEMPTS = 10


class FlagQuerySet(models.QuerySet):
    """Safety flags and worsening signals share a table; every list and count takes one kind (issue 15)."""

    def safety(self):
        return self.exclude(rule__in=WORSENING_SIGNAL_RULES)

    def worsening_signals(self):
        return self.filter(rule__in=WORSENING_SIGNAL_RULES)

    def of_kind(self, kind: str):
        return self.worsening_signals() if kind == FlagKind.WORSENING else self.safety()


class Flag(models.Model):
    """One rule that fired for one follow-up: something a clinician must look at.

    One flag per rule per follow-up (a unique constraint), so evaluating a submission again raises nothing new.
    Every change is kept (django-simple-history): who started the review, who dismissed it and why.
    """

    # clinic and patient are denormalised from the follow-up so the inbox filters without joins.
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="flags")
    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="flags")
    follow_up = models.ForeignKey("outcomes.FollowUp", on_delete=models.PROTECT, related_name="flags")
    submission = models.ForeignKey("outcomes.Submission", on_delete=models.PROTECT, related_name="flags")
    rule = models.CharField(max_length=32, choices=FlagRule.choices)
    urgent = models.BooleanField(default=False)
    # What fired: the answers, or baseline and follow-up scores with the threshold and its source.
    values = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    dismissed_reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-urgent", "raised_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["follow_up", "rule"], name="one_flag_per_follow_up_rule"),
            models.CheckConstraint(condition=models.Q(rule__in=FlagRule.values), name="flag_rule_valid"),
            models.CheckConstraint(condition=models.Q(status__in=FlagStatus.values), name="flag_status_valid"),
            models.CheckConstraint(
                condition=~models.Q(status=FlagStatus.DISMISSED) | ~models.Q(dismissed_reason=""),
                name="flag_dismissal_has_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(status=FlagStatus.OPEN) | models.Q(reviewed_at__isnull=False),
                name="flag_reviewed_when_not_open",
            ),
        ]
        indexes = [
            # The clinic's inbox: its open (or in-review) flags, urgent first, then oldest.
            models.Index(fields=["clinic", "status", "-urgent", "raised_at"], name="flag_inbox"),
            # Recent flags across clinics: the daily digest's counts and the urgent-notice catch-up (notifications).
            models.Index(fields=["raised_at"], name="flag_raised_at"),
        ]

    def __str__(self) -> str:
        return f"Flag #{self.pk}: {self.get_rule_display()}"

    @property
    def kind(self) -> str:
        """A safety flag, or a worsening signal (scores worse than baseline: efficacy, not harm)."""
        return flag_kind(self.rule)

    @property
    def is_worsening_signal(self) -> bool:
        return self.kind == FlagKind.WORSENING

    def get_kind_display(self) -> str:
        return FlagKind(self.kind).label

    def can_transition_to(self, status: str) -> bool:
        return status in TRANSITIONS.get(self.status, ())

    @property
    def is_active(self) -> bool:
        """Still waiting for a clinician's decision."""
        return self.status in ACTIVE_STATUSES

    @property
    def age_days(self) -> int:
        """Whole days since the flag was raised."""
        return max((timezone.now() - self.raised_at).days, 0)

    @property
    def summary(self) -> str:
        """One line saying what fired, e.g. "VAS pain 30 → 52 (+22; flagged from +20)" or "Yes: fever"."""
        values = self.values or {}
        if "measure" in values:
            label = MEASURE_LABELS.get(values["measure"], values["measure"])
            step = values.get("threshold")
            sign = "+" if values.get("direction") == "increase" else "-"
            change = values.get("change")
            shown = "—" if change is None else f"{'+' if change > 0 else ''}{_number(change)}"
            if "previous" in values:  # a combination: the yes answer with the change since the knee's last score
                said = ", ".join(SAFETY_ITEM_LABELS.get(code, code) for code in values.get("fired", []))
                return (
                    f"Yes: {said}; {label} {_number(values.get('previous'))} → {_number(values.get('follow_up'))} "
                    f"since the previous questionnaire ({shown}; flagged from {sign}{_number(step)})"
                )
            return (
                f"{label} {_number(values.get('baseline'))} → {_number(values.get('follow_up'))} "
                f"({shown}; flagged from {sign}{_number(step)})"
            )
        answers = values.get("answers", {})
        fired = values.get("fired", [])
        texts = [a for code in fired if isinstance(a := answers.get(code), str)]
        if texts:
            text = " ".join(texts)
            return f"“{text[:SUMMARY_TEXT_LENGTH]}{'…' if len(text) > SUMMARY_TEXT_LENGTH else ''}”"
        return "Yes: " + ", ".join(SAFETY_ITEM_LABELS.get(code, code) for code in fired)

    @property
    def age_label(self) -> str:
        days = self.age_days
        if days == 0:
            return "today"
        return f"{days} day{'s' if days != 1 else ''}"


class Evaluation(models.Model):
    """That a submission's answers went through the flag rules (evaluated_at), or the last error if they did not.

    A submission without a successful evaluation is picked up again by the safety-net sweep
    (selectors.submissions_pending_evaluation), so a failure in the rules never loses a flag.
    """

    submission = models.OneToOneField("outcomes.Submission", on_delete=models.PROTECT, related_name="evaluation")
    evaluated_at = models.DateTimeField(null=True, blank=True, help_text="Last successful evaluation.")
    last_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the last attempt failed (empty once it succeeds).")

    class Meta:
        indexes = [
            # The sweep's retries and the inbox warning: "evaluations that have not succeeded".
            models.Index(fields=["last_attempt_at"], name="evaluation_failed", condition=models.Q(evaluated_at=None)),
        ]

    def __str__(self) -> str:
        return f"Evaluation of submission {self.submission_id} ({'failed' if self.failed else 'ok'})"

    @property
    def failed(self) -> bool:
        return self.evaluated_at is None

    @property
    def will_retry(self) -> bool:
        return self.failed and self.attempts < MAX_EVALUATION_ATTEMPTS

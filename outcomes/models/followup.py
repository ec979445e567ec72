from django.db import models
from django.utils import dateformat
from django.utils.translation import gettext_lazy

from registry.history import HistoricalRecords
from registry.models.injection import knee_product_day


class Timepoint(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    DAY_3 = "d3", "Day 2-3 safety check"
    DAY_12 = "d12", "Day 10-14 safety check"
    ONE_MONTH = "1m", "1 month"
    SIX_MONTHS = "6m", "6 months"
    TWELVE_MONTHS = "12m", "12 months"
    TWENTY_FOUR_MONTHS = "24m", "24 months"


# Short safety checks in the first two weeks, when flares, pseudoseptic reactions and septic arthritis present
# (issue 15). They ask safety questions and a pain score only: never outcome timepoints (no MCID, responders or
# trajectories), but followed up, chased within their window and counted for completion like the others.
SAFETY_CHECK_TIMEPOINTS = (Timepoint.DAY_3, Timepoint.DAY_12)
OUTCOME_TIMEPOINTS: tuple[str, ...] = tuple(t.value for t in Timepoint if t not in SAFETY_CHECK_TIMEPOINTS)


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"
    # A baseline that could not be asked for in time (outcomes.schedule): never chased, never counted as missed.
    NOT_COLLECTED = "not_collected", "Not collected: recorded after the injection"


# A follow-up in one of these may still be answered, moved or cancelled.
ACTIVE_STATUSES = (FollowUpStatus.SCHEDULED, FollowUpStatus.OPEN)
# FollowUp.patient_label, by the plan's knee.
PATIENT_LABELS = {
    "left": gettext_lazy("your left knee, injected on %(day)s"),
    "right": gettext_lazy("your right knee, injected on %(day)s"),
}


class FollowUp(models.Model):
    """One questionnaire a patient owes for one knee's treatment plan at one timepoint.

    Dates are in the clinic's own calendar; the window is [opens_on, closes_on], both inclusive.
    """

    plan = models.ForeignKey("registry.TreatmentPlan", on_delete=models.PROTECT, related_name="follow_ups")
    # Denormalised from the plan so the sweep and dashboards filter without joins.
    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="follow_ups")
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="follow_ups")
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    opens_on = models.DateField()
    due_on = models.DateField()
    closes_on = models.DateField()
    # The plan's first injection day, kept here so every email and page can name it without a join.
    injected_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    cancelled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "timepoint"], name="one_follow_up_per_plan_timepoint"),
            models.CheckConstraint(
                condition=models.Q(timepoint__in=Timepoint.values), name="follow_up_timepoint_valid"
            ),
            models.CheckConstraint(condition=models.Q(status__in=FollowUpStatus.values), name="follow_up_status_valid"),
            models.CheckConstraint(
                condition=models.Q(opens_on__lte=models.F("due_on")) & models.Q(due_on__lte=models.F("closes_on")),
                name="follow_up_window_ordered",
            ),
        ]
        indexes = [
            # The sweep: "scheduled follow-ups whose window has opened" and "open ones whose window has closed".
            models.Index(fields=["opens_on"], name="follow_up_to_open", condition=models.Q(status="scheduled")),
            models.Index(fields=["closes_on"], name="follow_up_to_close", condition=models.Q(status="open")),
            models.Index(fields=["clinic", "timepoint", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.patient} — {self.get_timepoint_display()} ({self.get_status_display().lower()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def injection_day(self):
        if self.injected_on is None:  # rows written before the field existed, or by hand in tests
            first = self.plan.first_injection
            self.injected_on = first.injected_on if first else self.due_on
        return self.injected_on

    @property
    def staff_label(self) -> str:
        """ "Left knee, BMAC, injected 3 Mar 2026" (the lists select_related the plan)."""
        return knee_product_day(self.plan.get_knee_display(), self.plan.get_product_display(), self.injection_day)

    @property
    def patient_label(self) -> str:
        """What this questionnaire is about, in the patient's words: "your left knee, injected on 3 March 2026".
        A patient treated in both knees gets a questionnaire per knee; this is how they tell them apart."""
        # Whole phrases per knee, translated: languages place the word for "left" differently.
        label = PATIENT_LABELS.get(self.plan.knee, PATIENT_LABELS["left"])
        return label % {"day": dateformat.format(self.injection_day, "j F Y")}  # month name in the active language

    @property
    def is_safety_check(self) -> bool:
        return self.timepoint in SAFETY_CHECK_TIMEPOINTS

    def window_contains(self, day) -> bool:
        return self.opens_on <= day <= self.closes_on

    def status_on(self, day) -> str:
        """What the status should be on a clinic-local day, for a follow-up not yet answered or cancelled."""
        if day < self.opens_on:
            return FollowUpStatus.SCHEDULED
        if day <= self.closes_on:
            return FollowUpStatus.OPEN
        return FollowUpStatus.MISSED

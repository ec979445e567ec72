"""The dashboard's per-plan summary: one row per treatment plan with its scores, statuses and due dates at every
timepoint, so the outcome aggregates read one narrow table instead of joining each plan to three follow-ups and
three submissions on every request (outcomes.analysis.plan_outcomes keeps it).

Rows are derived data, rebuilt from plans, patients, first injections, follow-ups and submissions, never edited.
Database triggers (migration 0003) append the plan of every inserted, updated or deleted row of those tables to
PlanOutcomeQueue, whatever wrote it (a service, a bulk update, the admin, raw SQL); queued plans are rebuilt by a
Celery task every minute and before any summary is computed, so the dashboard never reads a stale row.
"""

from django.db import models

from outcomes.measures import SCORE_COLUMNS

# Prefix of each timepoint's columns (baseline, 1m, 6m, 12m, 24m): "b_koos_pain", "m1_status"...
SHORT = {"baseline": "b", "1m": "m1", "6m": "m6", "12m": "m12", "24m": "m24"}


class PlanOutcome(models.Model):
    # No database constraint: derived rows may briefly outlive a plan; the aggregates join plans, so they never
    # count, and the next rebuild of that plan removes them.
    plan = models.OneToOneField(
        "registry.TreatmentPlan",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="outcome_summary",
    )
    refreshed_at = models.DateTimeField(auto_now=True)
    # What the summaries group by, copied from the plan, its patient and its first injection.
    clinic_id = models.BigIntegerField(null=True)
    product = models.CharField(max_length=16, null=True)
    planned_injections = models.PositiveSmallIntegerField(null=True)
    kl_grade = models.PositiveSmallIntegerField(null=True)
    clinician_id = models.BigIntegerField(null=True)
    first_product = models.CharField(max_length=16, null=True)  # the first injection's, which loss tables use
    age_at_injection = models.PositiveSmallIntegerField(null=True)
    # Covariates of the adjusted comparison (outcomes.analysis.adjusted), beside age and KL grade.
    bmi = models.DecimalField(max_digits=4, decimal_places=1, null=True)  # as the injection stores it
    sex = models.CharField(max_length=8, null=True)

    class Meta:
        verbose_name = "plan outcome summary"

    def __str__(self) -> str:
        return f"Outcome summary of plan {self.plan_id}"


# Per timepoint (b, m1, m6, m12, m24): every score column of its submission, and the follow-up's status, due date
# and id, under the names outcomes.analysis.expressions.row_aliases gives them, so the same expressions read either.
for _t in SHORT.values():
    for _column in SCORE_COLUMNS:
        PlanOutcome.add_to_class(f"{_t}_{_column}", models.FloatField(null=True))
    PlanOutcome.add_to_class(f"{_t}_status", models.CharField(max_length=16, null=True))
    PlanOutcome.add_to_class(f"{_t}_due", models.DateField(null=True))
    PlanOutcome.add_to_class(f"{_t}_id", models.BigIntegerField(null=True))


class PlanOutcomeQueue(models.Model):
    """Plans whose summary row must be rebuilt: appended to by triggers only (never a lock on an existing row, so
    writers never wait on each other), consumed by outcomes.analysis.plan_outcomes.refresh."""

    plan_id = models.BigIntegerField()

    class Meta:
        verbose_name = "plan outcome refresh request"
        indexes = [models.Index(fields=["plan_id"], name="plan_outcome_queue_plan")]

    def __str__(self) -> str:
        return f"Rebuild the outcome summary of plan {self.plan_id}"


class ClinicDataVersion(models.Model):
    """How often the figures of a clinic's plans have changed. A cached dashboard summary is keyed by the versions
    of the clinics it covers (outcomes.analysis.cache), so it is recomputed after any change to them.

    Bumped only by outcomes.analysis.plan_outcomes.refresh, for the clinics of the plans it rebuilds (before and
    after, so a plan moving clinic changes both): every write reaches the queue through the triggers, and writers
    never wait on a shared counter row, only the refresh, one batch at a time, does."""

    clinic_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "clinic data version"

    def __str__(self) -> str:
        return f"Clinic {self.clinic_id}: data version {self.version}"

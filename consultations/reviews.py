"""The fallback review rule (issue 16): which courses have reached their review point and what their outcome was
found to be, in SQL over the outcome summary (outcomes.models.PlanOutcome), never a loop over courses.

A course (registry TreatmentPlan) reaches its review point ``review_after_months`` after its first injection,
taken from the consultation the first injection was recorded from; a course without one follows the default plan
(6 months, "below the MCID in KOOS Pain or OKS, or not an OMERACT-OARSI responder"). The outcome compared is the
follow-up of that review point (consultations.selectors.review_timepoint) against the course's own baseline, with
the dashboard's expressions (outcomes.analysis.expressions): reaching exactly the MCID counts as improved.

The questionnaires hold no global rating of change (the patient global assessment, PGA, asks how the knee is now,
not whether it is better than before), so a plan whose rule is the patient's own judgement cannot be decided from
the scores: such courses come onto the list at their review point with the finding "ask the patient".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, IsNull
from django.utils import timezone

from consultations.choices import DEFAULT_REVIEW_AFTER_MONTHS, NotImprovedRule, ReviewFinding
from consultations.models import REVIEW_MONTHS, FallbackReview
from consultations.selectors import review_timepoint
from outcomes.analysis import plan_outcomes
from outcomes.analysis.cohort import first_injection
from outcomes.analysis.expressions import Picked, oarsi_responder, reaches_mcid, score
from outcomes.models import FollowUpStatus, Timepoint
from outcomes.models.plan_outcome import SHORT
from outcomes.schedule import add_months
from outcomes.thresholds import get_thresholds
from registry.choices import InjectionStatus
from registry.models import TreatmentPlan
from registry.scoping import clinics_for
from safety.choices import ACTIVE_STATUSES
from safety.models import AdverseEvent, Flag

DEFAULT_RULE = NotImprovedRule.MCID_OR_RESPONDER
# What puts a course on the review list (an improved course is reviewed only if the clinician chooses to).
ON_THE_LIST = (ReviewFinding.NOT_IMPROVED, ReviewFinding.NO_FOLLOW_UP, ReviewFinding.ASK_PATIENT)
# The measures a rule reads, and those the list's trajectory shows.
RULE_COLUMNS = ("koos_pain", "koos_adl", "oks_total", "patient_global")
TRAJECTORY_COLUMNS = ("koos_pain", "oks_total")
FOLLOW_UPS = (Timepoint.ONE_MONTH, Timepoint.SIX_MONTHS, Timepoint.TWELVE_MONTHS, Timepoint.TWENTY_FOUR_MONTHS)
TRAJECTORY_TIMEPOINTS = (Timepoint.BASELINE, *FOLLOW_UPS)


class AddMonths(Func):
    """date + n months, as a date. PostgreSQL keeps the day or clamps it to the month's end (31 Jan + 1 month =
    28 Feb, as outcomes.schedule.add_months does); SQLite (laptops only) rolls over (3 Mar)."""

    arity = 2
    output_field = DateField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="CAST(%(expressions)s) AS date)", arg_joiner=" + make_interval(months => "
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="date(%(expressions)s || ' months')", arg_joiner=", '+' || ")


def _months_reading(timepoint: str) -> Q:
    """The plans whose review point reads the follow-up at ``timepoint`` (derived from review_timepoint)."""
    months = [m for m in range(REVIEW_MONTHS[0], REVIEW_MONTHS[1] + 1) if review_timepoint(m) == timepoint]
    return Q(review_months__in=months)


# Each course's review-point follow-up, picked row by row from the outcome summary's timepoints: the rule below is
# then one expression, not one per timepoint (four copies cost most of a review page's time in the ORM).
AT_REVIEW = Picked("rp")
PICKED_COLUMNS = (*RULE_COLUMNS, "status", "due")


def _review_point_columns() -> dict[str, Case]:
    return {
        f"{AT_REVIEW.prefix}_{column}": Case(
            *[When(_months_reading(tp), then=F(f"{SHORT[tp]}_{column}")) for tp in FOLLOW_UPS], default=None
        )
        for column in PICKED_COLUMNS
    }


def _reads_follow_up(months: int) -> bool:
    return review_timepoint(months) in FOLLOW_UPS


def _both(column: str, timepoint: str | Picked) -> Q:
    return Q(IsNull(score(Timepoint.BASELINE, column), False)) & Q(IsNull(score(timepoint, column), False))


def _finding(today: dt.date) -> Case:
    """The finding at the review point: follow-up missing when it was missed, cancelled or is still open past its
    due day; nothing yet while it may still come in; otherwise the plan's rule."""
    at, p = AT_REVIEW, AT_REVIEW.prefix
    reads = Q(review_months__in=[m for m in range(REVIEW_MONTHS[0], REVIEW_MONTHS[1] + 1) if _reads_follow_up(m)])
    awaited = Q(**{f"{p}_status": FollowUpStatus.SCHEDULED}) | Q(
        **{f"{p}_status": FollowUpStatus.OPEN, f"{p}_due__gte": today}
    )
    completed = Q(**{f"{p}_status": FollowUpStatus.COMPLETED})

    thresholds = get_thresholds()
    koos_decided, oks_decided = _both("koos_pain", at), _both("oks_total", at)
    koos_below = koos_decided & ~Q(reaches_mcid(at, "koos_pain", thresholds["mcid.koos.pain"]))
    oks_below = oks_decided & ~Q(reaches_mcid(at, "oks_total", thresholds["mcid.oks.total"]))
    responder = oarsi_responder(at, pain="koos.pain")
    not_responder, responder_unknown = Q(Exact(responder, Value(0))), Q(IsNull(responder, True))
    # Per rule: (not improved, cannot be decided).
    rules = {
        NotImprovedRule.MCID_OR_RESPONDER: (
            koos_below | oks_below | not_responder,
            ~koos_decided & ~oks_decided & responder_unknown,
        ),
        NotImprovedRule.MCID_KOOS_PAIN: (koos_below, ~koos_decided),
        NotImprovedRule.MCID_OKS: (oks_below, ~oks_decided),
        NotImprovedRule.NOT_RESPONDER: (not_responder, responder_unknown),
    }
    whens = [
        When(review_rule=NotImprovedRule.PATIENT_JUDGEMENT, then=Value(ReviewFinding.ASK_PATIENT)),
        When(~reads, then=Value(None, output_field=CharField())),
        When(awaited, then=Value(None, output_field=CharField())),
        When(~completed, then=Value(ReviewFinding.NO_FOLLOW_UP)),
    ]
    for rule, (not_improved, undecided) in rules.items():
        whens.append(When(Q(review_rule=rule) & not_improved, then=Value(ReviewFinding.NOT_IMPROVED)))
        whens.append(When(Q(review_rule=rule) & undecided, then=Value(ReviewFinding.NO_FOLLOW_UP)))
    return Case(*whens, default=Value(ReviewFinding.IMPROVED), output_field=CharField())


def _summary_columns() -> dict[str, F]:
    """The outcome summary's columns the rule and the trajectory read, under the names the expressions use."""
    columns = {}
    for tp in TRAJECTORY_TIMEPOINTS:
        t = SHORT[tp]
        columns |= {f"{t}_{c}": F(f"outcome_summary__{t}_{c}") for c in RULE_COLUMNS}
        columns |= {f"{t}_status": F(f"outcome_summary__{t}_status"), f"{t}_due": F(f"outcome_summary__{t}_due")}
    return columns


def courses_with_findings(plans: QuerySet[TreatmentPlan], *, today: dt.date) -> QuerySet[TreatmentPlan]:
    """``plans`` whose first injection was given, annotated with ``injected_on``, ``review_months``,
    ``review_rule``, ``review_on`` (the review point) and ``finding`` (a ReviewFinding code, or None while the
    follow-up may still come in). The outcome summary must be fresh (``plan_outcomes.refresh``)."""
    return (
        plans.annotate(first=first_injection())
        .filter(first__status=InjectionStatus.GIVEN)
        .alias(**_summary_columns())
        .annotate(
            injected_on=F("first__injected_on"),
            review_months=Coalesce(
                F("first__consultation__review_after_months"),
                Value(DEFAULT_REVIEW_AFTER_MONTHS),
                output_field=IntegerField(),
            ),
            review_rule=Coalesce(
                F("first__consultation__not_improved_rule"), Value(DEFAULT_RULE), output_field=CharField()
            ),
        )
        .alias(**_review_point_columns())
        .annotate(review_on=AddMonths(F("injected_on"), F("review_months")), finding=_finding(today))
    )


def _count(rows: QuerySet, plan_path: str) -> Subquery:
    counted = (
        rows.filter(**{plan_path: OuterRef("pk")}).order_by().values(plan_path).annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _only(rows: QuerySet, plan_path: str) -> Subquery:
    """The id of one such row (the newest): the count's link opens it when it is the only one."""
    return Subquery(rows.filter(**{plan_path: OuterRef("pk")}).order_by("-pk").values("pk")[:1])


def _with_safety(plans: QuerySet[TreatmentPlan]) -> QuerySet[TreatmentPlan]:
    """Open safety flags (waiting for a decision) and adverse events of each course, counted in subqueries."""
    open_flags = Flag.objects.safety().filter(status__in=ACTIVE_STATUSES)
    events = AdverseEvent.objects.all()
    return plans.annotate(
        open_flags=_count(open_flags, "follow_up__plan"),
        open_flag_id=_only(open_flags, "follow_up__plan"),
        adverse_events=_count(events, "index_injection__plan"),
        adverse_event_id=_only(events, "index_injection__plan"),
    )


def review_list(
    user, *, today: dt.date | None = None, clinic_id: int | None = None, finding: str | None = None
) -> QuerySet[TreatmentPlan]:
    """The courses in the user's clinics that are past their review point, not improved (or their follow-up is
    missing, or the patient is to be asked), and not yet reviewed: longest waiting first. Patients who withdrew
    consent are not chased."""
    plan_outcomes.refresh()  # courses changed since their summary row was built (usually none)
    today = today or timezone.localdate()
    clinics = clinics_for(user).values("id")
    if clinic_id is not None:
        clinics = clinics.filter(pk=clinic_id)
    plans = TreatmentPlan.objects.filter(
        patient__clinic__in=clinics, patient__consent_withdrawn_at__isnull=True, fallback_review__isnull=True
    )
    courses = courses_with_findings(plans, today=today).filter(review_on__lte=today, finding__in=ON_THE_LIST)
    if finding:
        courses = courses.filter(finding=finding)
    return with_trajectory(_with_safety(courses.select_related("patient__clinic"))).order_by("review_on", "pk")


def finding_now(plan: TreatmentPlan, *, today: dt.date) -> tuple[str | None, dt.date | None]:
    """(finding, review point) of one course now; (None, None) when its first injection was not given."""
    plan_outcomes.refresh()
    row = (
        courses_with_findings(TreatmentPlan.objects.filter(pk=plan.pk), today=today)
        .values("finding", "review_on")
        .first()
    )
    return (row["finding"], row["review_on"]) if row else (None, None)


def reviews_for(user, *, write: bool = False) -> QuerySet[FallbackReview]:
    return FallbackReview.objects.filter(plan__patient__clinic__in=clinics_for(user, write=write).values("id"))


def reviewed(user, *, clinic_id: int | None = None, finding: str | None = None) -> QuerySet[FallbackReview]:
    """Recorded reviews of the user's clinics, newest first."""
    reviews = reviews_for(user)
    if clinic_id is not None:
        reviews = reviews.filter(plan__patient__clinic_id=clinic_id)
    if finding:
        reviews = reviews.filter(finding=finding)
    return reviews.select_related("plan__patient", "clinician").order_by("-reviewed_on", "-id")


@dataclass(frozen=True)
class Point:
    timepoint: str
    koos_pain: float | None
    oks_total: float | None


def trajectory(course: TreatmentPlan) -> list[Point]:
    """A listed course's scores at each timepoint, from the columns the list query already read."""
    points = []
    for tp in TRAJECTORY_TIMEPOINTS:
        t = SHORT[tp]
        values = [getattr(course, f"traj_{t}_{c}", None) for c in TRAJECTORY_COLUMNS]
        if any(v is not None for v in values):
            points.append(Point(tp, *values))
    return points


def with_trajectory(courses: QuerySet[TreatmentPlan]) -> QuerySet[TreatmentPlan]:
    return courses.annotate(
        **{f"traj_{SHORT[tp]}_{c}": F(f"{SHORT[tp]}_{c}") for tp in TRAJECTORY_TIMEPOINTS for c in TRAJECTORY_COLUMNS}
    )


def review_point(injected_on: dt.date, months: int) -> dt.date:
    return add_months(injected_on, months)


def course_with_finding(plans: QuerySet[TreatmentPlan], pk: int, *, today: dt.date) -> TreatmentPlan | None:
    """One course as the list shows it (finding, review point, trajectory, safety counts), or None when its
    first injection was not given."""
    plan_outcomes.refresh()
    courses = courses_with_findings(plans.filter(pk=pk).select_related("patient__clinic"), today=today)
    return with_trajectory(_with_safety(courses)).first()

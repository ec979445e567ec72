"""Reads for outcomes, already scoped to what the user may see (registry.scoping decides; nothing else does),
and the derived measures of a page of follow-ups in a fixed number of queries."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from outcomes import derived
from outcomes.measures import MEASURES, SCORE_COLUMNS, row_scores, submission_scores
from outcomes.models import Amendment, FollowUp, FollowUpStatus, FurtherTreatment, Submission, Timepoint
from outcomes.thresholds import get_thresholds
from registry.scoping import plans_for


def follow_ups_for(user, *, write: bool = False) -> QuerySet[FollowUp]:
    """Follow-ups of the treatment plans the user may see (or change, with write=True)."""
    return FollowUp.objects.filter(plan__in=plans_for(user, write=write).values("id"))


def further_treatments_for(user, *, write: bool = False) -> QuerySet[FurtherTreatment]:
    """Further treatments of the treatment plans the user may see (or change, with write=True)."""
    return FurtherTreatment.objects.filter(plan__in=plans_for(user, write=write).values("id"))


def submissions_for(user, *, write: bool = False) -> QuerySet[Submission]:
    return Submission.objects.filter(follow_up__plan__in=plans_for(user, write=write).values("id"))


def amendments_for(user) -> QuerySet[Amendment]:
    return Amendment.objects.filter(submission__follow_up__plan__in=plans_for(user).values("id"))


def submission_of(follow_up: FollowUp) -> Submission | None:
    """The follow-up's submission or None (no query when the queryset used select_related("submission"))."""
    try:
        return follow_up.submission
    except Submission.DoesNotExist:
        return None


def current_scores(submission: Submission) -> dict[str, float | None]:
    """Scores keyed by measure name, as they stand now (a clinician amendment replaces the original values)."""
    return submission_scores(submission)


@dataclass(frozen=True)
class Derived:
    change_from_baseline: dict[str, float | None] | None
    mcid_reached: dict[str, bool | None] | None
    responder: bool | None
    responder_criterion: str | None
    responder_reason: str
    baseline_late: bool


NOT_COMPUTABLE = Derived(None, None, None, None, "", False)


def derived_measures(
    baseline: dict[str, float | None], follow_up: dict[str, float | None], *, baseline_late: bool = False
) -> Derived:
    thresholds = get_thresholds()
    change = derived.change_from_baseline(baseline, follow_up)
    mcid = {
        m.name: derived.reaches_mcid(m.name, baseline.get(m.name), follow_up.get(m.name), thresholds)
        for m in MEASURES
        if m.mcid_key in thresholds
    }
    responder = derived.omeract_oarsi_from_scores(baseline, follow_up)
    return Derived(change, mcid, responder.responder, responder.criterion, responder.reason, baseline_late)


def derived_for(follow_ups: Iterable[FollowUp]) -> dict[int, Derived]:
    """Derived measures for each completed post-baseline follow-up, keyed by follow-up id, in one query.

    The follow-ups should come with select_related("submission"); baselines are fetched together.
    """
    follow_ups = list(follow_ups)
    wanted = [
        fu
        for fu in follow_ups
        # Early safety checks are not outcome measurements: no change from baseline, no MCID, no responder.
        if fu.timepoint != Timepoint.BASELINE
        and not fu.is_safety_check
        and fu.status == FollowUpStatus.COMPLETED
        and submission_of(fu)
    ]
    if not wanted:
        return {}
    rows = Submission.objects.filter(
        follow_up__plan_id__in={fu.plan_id for fu in wanted}, timepoint=Timepoint.BASELINE
    ).values("follow_up__plan_id", "late", *SCORE_COLUMNS)
    baselines = {row["follow_up__plan_id"]: row for row in rows}
    result = {}
    for fu in wanted:
        row = baselines.get(fu.plan_id)
        if row is None:
            continue  # no baseline: nothing to compare against
        baseline = row_scores(row)
        result[fu.pk] = derived_measures(baseline, current_scores(fu.submission), baseline_late=row["late"])
    return result

"""Reads for the safety app, already scoped to what the user may see (registry.scoping decides)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from outcomes.derived import change, is_deterioration
from outcomes.instruments import get_instrument
from outcomes.measures import MEASURES
from outcomes.models import Submission
from outcomes.thresholds import get_thresholds
from registry.scoping import clinics_for
from safety import rules
from safety.choices import ACTIVE_STATUSES, FlagKind, FlagStatus
from safety.models import MAX_EVALUATION_ATTEMPTS, Evaluation, Flag
from safety.services import baseline_submission_for, submission_measures

INBOX_ORDER = ("-urgent", "raised_at", "id")


def flags_for(user, *, write: bool = False) -> QuerySet[Flag]:
    """Flags of the clinics the user may read (or, with write=True, act on)."""
    return Flag.objects.filter(clinic__in=clinics_for(user, write=write).values("id"))


def flag_inbox(
    user, *, status: str | None = None, urgent: bool | None = None, kind: str = FlagKind.SAFETY
) -> QuerySet[Flag]:
    """The inbox of one kind (safety flags by default, or worsening signals): by default those still waiting for
    a decision; urgent first, then the oldest."""
    flags = flags_for(user).of_kind(kind).select_related("patient", "follow_up__plan", "clinic")
    if status is None or status == "active":
        flags = flags.filter(status__in=ACTIVE_STATUSES)
    elif status != "all":
        flags = flags.filter(status=status)
    if urgent is not None:
        flags = flags.filter(urgent=urgent)
    return flags.order_by(*INBOX_ORDER)


def evaluations_failed_for(user) -> QuerySet[Evaluation]:
    """Submissions of the user's clinics whose flag evaluation last failed (shown so nobody assumes "no flags")."""
    return (
        Evaluation.objects.filter(evaluated_at__isnull=True, submission__clinic__in=clinics_for(user).values("id"))
        .select_related("submission__follow_up__patient")
        .order_by("last_attempt_at")
    )


def submissions_pending_evaluation(limit: int = 500, *, submitted_before=None) -> list[int]:
    """Ids of submissions that still need the flag rules: never evaluated, or failed with retries left.

    For the safety-net sweep (notifications). An anti-join (NOT EXISTS) probing the unique index on
    Evaluation.submission_id, oldest first; `submitted_before` leaves alone what the on-commit task is still doing.
    """
    done = Evaluation.objects.filter(submission_id=OuterRef("pk")).filter(
        Q(evaluated_at__isnull=False) | Q(attempts__gte=MAX_EVALUATION_ATTEMPTS)
    )
    pending = Submission.objects.filter(~Exists(done))
    if submitted_before is not None:
        pending = pending.filter(submitted_at__lt=submitted_before)
    return list(pending.order_by("pk").values_list("pk", flat=True)[:limit])


# --- the flag page's evidence -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRow:
    label: str
    baseline: float | None
    follow_up: float | None
    change: float | None
    threshold: Any  # outcomes.thresholds.Threshold or None
    worse: bool  # reached the deterioration threshold


@dataclass(frozen=True)
class AnswerRow:
    text: str
    answer: str
    fired: bool


@dataclass(frozen=True)
class Evidence:
    baseline: Submission | None
    scores: list[ScoreRow]
    safety_answers: list[AnswerRow]


def _answer_text(value: Any) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    return "" if value is None else str(value)


def flag_evidence(flag: Flag) -> Evidence:
    """What lies behind a flag: the safety answers of its questionnaire and every score against baseline."""
    submission = flag.submission
    baseline = baseline_submission_for(submission)
    now, before = submission_measures(submission), submission_measures(baseline) if baseline else {}
    thresholds = get_thresholds()
    scores = []
    for m in MEASURES:  # each labelled with its scale, so the reader sees which way is worse
        threshold = thresholds.get(m.deterioration_key)
        b, f = before.get(m.name), now.get(m.name)
        worse = bool(threshold and is_deterioration(m.name, b, f, thresholds))
        scores.append(ScoreRow(m.described, b, f, change(b, f), threshold, worse))

    fired = {code for other in submission.flags.all() for code in other.values.get("fired", [])}
    safety_answers = []
    # The 1-month/6-month safety questions, or an early safety check's (rules.SAFETY_INSTRUMENTS).
    code = next((c for c in rules.SAFETY_INSTRUMENTS if submission.answers.get(c)), None)
    if code is not None:
        block = submission.answers[code]
        instrument = get_instrument(code, submission.instrument_versions.get(code))
        for item in instrument.items:
            if item.code in block:
                entry = block[item.code]
                text = entry.get("option") or _answer_text(entry.get("value"))  # a choice shows its label
                safety_answers.append(AnswerRow(item.text, text, item.code in fired))
    return Evidence(baseline=baseline, scores=scores, safety_answers=safety_answers)


def flags_for_status_filter() -> list[tuple[str, str]]:
    return [("active", "Waiting for review"), *FlagStatus.choices, ("all", "All")]

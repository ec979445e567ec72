"""The outcome rules of ``outcomes.derived`` written as ORM expressions, so the database can count them.

Every expression here works on ``outcomes.analysis.cohort.outcome_rows``: plans with one filtered join per
timepoint (``fu_baseline``, ``fu_1m``, ``fu_6m``: the plan's follow-up at that timepoint and, through it, its
submission), whose columns ``row_aliases`` names. A plan's change is its own follow-up minus its own baseline:
the pairing is the join, never a Python loop. tests/outcomes/test_analysis_expressions.py proves that the SQL and
the pure functions agree on random scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import Case, Count, F, FloatField, IntegerField, Q, Sum, Value, When
from django.db.models.expressions import CombinedExpression, Expression
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, IsNull, LessThanOrEqual

from outcomes.derived import EPS, OARSI_HIGH, OARSI_MODERATE
from outcomes.measures import SCORE_COLUMNS
from outcomes.models import FollowUpStatus, Timepoint
from outcomes.models.followup import OUTCOME_TIMEPOINTS
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import Threshold

# Outcome timepoints only (baseline, 1m, 6m, 12m, 24m): the early safety checks are not outcome measurements.
TIMEPOINTS: tuple[str, ...] = OUTCOME_TIMEPOINTS
FOLLOW_UP_TIMEPOINTS: tuple[str, ...] = tuple(t for t in TIMEPOINTS if t != Timepoint.BASELINE)


@dataclass(frozen=True)
class Picked:
    """Stands for a timepoint chosen row by row: columns already aliased ``<prefix>_koos_pain``,
    ``<prefix>_status``... (e.g. each course's review point). The expressions below accept it wherever they take
    a follow-up timepoint, so a rule is written once instead of once per timepoint it may read."""

    prefix: str


def _prefix(timepoint: str | Picked) -> str:
    return timepoint.prefix if isinstance(timepoint, Picked) else SHORT[timepoint]


def follow_up_alias(timepoint: str) -> str:
    """Name of the plan's filtered join to its follow-up at ``timepoint``."""
    return f"fu_{timepoint}"


def row_aliases() -> dict[str, F]:
    """Per-plan columns under short names (``m1_koos_pain``, ``m6_status``...), added once to the cohort with
    ``.alias()``. The aggregates refer to these names rather than to the join paths, so Django resolves each
    join once instead of once per aggregate (hundreds of them: that was most of the time on a small registry)."""
    aliases: dict[str, F] = {}
    for tp in TIMEPOINTS:
        fu, t = follow_up_alias(tp), SHORT[tp]
        aliases |= {f"{t}_{column}": F(f"{fu}__submission__{column}") for column in SCORE_COLUMNS}
        aliases |= {f"{t}_status": F(f"{fu}__status"), f"{t}_due": F(f"{fu}__due_on"), f"{t}_id": F(f"{fu}__id")}
    return aliases


def score(timepoint: str | Picked, column: str) -> F:
    return F(f"{_prefix(timepoint)}_{column}")


def change(timepoint: str, column: str) -> CombinedExpression:
    """Follow-up minus the same plan's baseline; NULL unless both are scored (derived.change)."""
    return score(timepoint, column) - score(Timepoint.BASELINE, column)


def reaches_mcid(timepoint: str, column: str, threshold: Threshold) -> Expression:
    """derived.reaches_mcid as a condition: the change meets the threshold in the measure's direction,
    inclusively (within EPS). False (not counted) when either score is missing."""
    delta = change(timepoint, column)
    if threshold.direction == "increase":
        return GreaterThanOrEqual(delta, Value(threshold.value - EPS))
    return LessThanOrEqual(delta, Value(-(threshold.value - EPS)))


def reaches_pass(timepoint: str, column: str, threshold: Threshold) -> Expression:
    """The score at ``timepoint`` is in the patient acceptable symptom state: at or above the threshold for KOOS
    and OKS, at or below it for VAS pain (inclusive, within EPS). False when the score is missing."""
    value = score(timepoint, column)
    if threshold.direction == "increase":
        return GreaterThanOrEqual(value, Value(threshold.value - EPS))
    return LessThanOrEqual(value, Value(threshold.value + EPS))


def is_due(timepoint: str, today: dt.date) -> Q:
    """The follow-up counts in the completion denominator: completed, missed, or open past its due date. The
    knees a missing-as-non-responder share divides by."""
    t = _prefix(timepoint)
    return Q(**{f"{t}_status__in": [FollowUpStatus.COMPLETED, FollowUpStatus.MISSED]}) | Q(
        **{f"{t}_status": FollowUpStatus.OPEN, f"{t}_due__lt": today}
    )


# The timepoints every product is followed at: the "same knees" trajectory is the knees scored at all of them.
SAME_KNEES_CORE: tuple[str, ...] = (Timepoint.BASELINE, Timepoint.ONE_MONTH, Timepoint.SIX_MONTHS)


def answered_throughout(column: str, timepoints: tuple[str, ...] = TIMEPOINTS) -> Q:
    """The knee has a score for ``column`` at every one of ``timepoints``: the same knees at every point of a
    trajectory, so a change in the mean is a change in patients, not in who answered."""
    return Q(*(Q(IsNull(score(tp, column), False)) for tp in timepoints))


# --- OMERACT-OARSI ------------------------------------------------------------------------------------------

_HUNDRED = Value(100.0)


def _is_null(expression: Expression) -> Q:
    # A lookup object is a condition of its own, so IS NULL applies to any expression, not only to fields.
    return Q(IsNull(expression, True))


def _both(a: Expression, b: Expression) -> Q:
    return Q(IsNull(a, False)) & Q(IsNull(b, False))


def _improved(baseline: Expression, follow: Expression, rule: tuple[float, float]) -> Q:
    """derived._improved: baseline > 0, and the gain is at least the absolute and the relative amount
    (0-100 scales, higher is worse)."""
    relative, absolute = rule
    gain = baseline - follow
    return (
        Q(GreaterThan(baseline, Value(0.0)))
        & Q(GreaterThanOrEqual(gain, Value(absolute - EPS)))
        & Q(GreaterThanOrEqual(gain, Value(relative) * baseline - Value(EPS)))
    )


def _worse_up(timepoint: str, column: str) -> Expression:
    return _HUNDRED - score(timepoint, column)  # KOOS: 100 is best; OMERACT-OARSI wants higher = worse


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


PainInstrument = Literal["koos.pain", "vas.pain"]
PAIN_INSTRUMENTS: tuple[str, ...] = ("koos.pain", "vas.pain")


def oarsi_responder(timepoint: str, *, pain: PainInstrument) -> Case:
    """derived.omeract_oarsi_from_scores(..., pain=pain) as 1 (responder), 0 (not) or NULL (cannot be decided).

    Inputs as derived.omeract_inputs: pain = 100 - KOOS Pain or the VAS, whichever ``pain`` names and only that
    one (an analysis never mixes the two: a knee without that instrument at both timepoints is undecided);
    function = 100 - KOOS ADL; global = patient global.
    """
    if pain not in PAIN_INSTRUMENTS:
        raise ValueError(f"pain must be one of {PAIN_INSTRUMENTS}, not {pain!r}")
    b, f = Timepoint.BASELINE, timepoint
    if pain == "koos.pain":
        pain_pair = _both(score(b, "koos_pain"), score(f, "koos_pain"))
        pain_b, pain_f = _worse_up(b, "koos_pain"), _worse_up(f, "koos_pain")
    else:
        pain_pair = _both(score(b, "vas_pain"), score(f, "vas_pain"))
        pain_b, pain_f = score(b, "vas_pain"), score(f, "vas_pain")

    def pain_improved(rule) -> Q:
        return _improved(pain_b, pain_f, rule)

    def function_improved(rule) -> Q:
        return _improved(_worse_up(b, "koos_adl"), _worse_up(f, "koos_adl"), rule)

    core = pain_pair & _both(score(b, "koos_adl"), score(f, "koos_adl"))
    global_b, global_f = score(b, "patient_global"), score(f, "patient_global")
    no_global = _is_null(global_b) & _is_null(global_f)
    global_known = _both(global_b, global_f)
    moderate = _flag(pain_improved(OARSI_MODERATE)) + _flag(function_improved(OARSI_MODERATE))
    global_improved = _flag(global_known & _improved(global_b, global_f, OARSI_MODERATE))
    return Case(
        When(~core, then=Value(None)),
        When(pain_improved(OARSI_HIGH) | function_improved(OARSI_HIGH), then=Value(1)),
        When(GreaterThanOrEqual(moderate + global_improved, Value(2)), then=Value(1)),
        # Collected at one timepoint only: the missing global would decide criterion B.
        When(~no_global & ~global_known & Q(GreaterThanOrEqual(moderate, Value(1))), then=Value(None)),
        default=Value(0),
        output_field=IntegerField(),
    )


# Responders and decided plans in ONE aggregate, so the rule is evaluated once per plan, not twice: a decided plan
# adds 1, a responder adds RESPONDER_WEIGHT + 1. The total is N + RESPONDER_WEIGHT x responders (N < the weight).
RESPONDER_WEIGHT = 2**32


def responder_tally(timepoint: str, *, pain: PainInstrument) -> Sum:
    return Sum(oarsi_responder(timepoint, pain=pain) * Value(RESPONDER_WEIGHT) + Value(1))


def responder_counts(tally: int | None) -> tuple[int, int]:
    """(responders, decided) from a responder_tally total."""
    responders, decided = divmod(int(tally or 0), RESPONDER_WEIGHT)
    return responders, decided


# --- Aggregates -------------------------------------------------------------------------------------------------


def sums(prefix: str, expression: Expression, condition: Q | None = None) -> dict[str, Expression]:
    """n, sum and sum of squares of an expression (NULLs ignored): enough for a mean and its CI."""
    return {
        f"{prefix}_n": Count(expression, filter=condition),
        f"{prefix}_s": Sum(expression, filter=condition, output_field=FloatField()),
        f"{prefix}_ss": Sum(expression * expression, filter=condition, output_field=FloatField()),
    }


__all__ = [
    "FOLLOW_UP_TIMEPOINTS",
    "PAIN_INSTRUMENTS",
    "TIMEPOINTS",
    "PainInstrument",
    "answered_throughout",
    "change",
    "follow_up_alias",
    "is_due",
    "oarsi_responder",
    "reaches_mcid",
    "reaches_pass",
    "score",
    "sums",
]

"""Time to knee replacement (partial or total) after a registry treatment: the Kaplan-Meier estimate per product.

Pure estimator first (``kaplan_meier``: no database, checked against lifelines in tests/outcomes/test_survival.py),
then one query that reads a row per plan (``arthroplasty_rows``) and the per-product table the page and its CSV
show (``by_product``).

Time starts at the plan's first injection. The event is the first partial or total knee replacement recorded for
the plan (outcomes.FurtherTreatment: reported by the patient at a follow-up or recorded by the clinic), on its day
when known and otherwise mid-month (patients give the month). A plan without one is censored at its last contact:
its last completed questionnaire after baseline, or the last further treatment the clinic recorded for it, whichever
is later. A patient who withdrew has no contact after withdrawing, so is censored at their last one too. A plan
with no contact since the injection is censored at 0 (in the numbers at risk at 0 only).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import F, Max, Q

from outcomes.models import ARTHROPLASTY, FurtherTreatment, Timepoint

# 95% two-sided normal quantile (lifelines: inv_normal_cdf(0.975)).
Z95 = 1.959963984540054
DAYS_PER_MONTH = 365.25 / 12
# Where the page and CSV read the curve: every 6 months to 2 years (the registry's longest follow-up).
GRID_MONTHS = (0, 6, 12, 18, 24)
MID_MONTH = 15


@dataclass(frozen=True)
class Step:
    """The estimate from ``time`` (months) until the next step."""

    time: float
    at_risk: int
    events: int
    censored: int
    survival: float
    lower: float
    upper: float


def _exponential_greenwood(survival: float, greenwood_sum: float, z: float) -> tuple[float, float]:
    """The log(-log) ("exponential Greenwood") interval, lifelines' default: never outside 0-1. (1, 1) before the
    first event and (0, 0) once the estimate reaches 0, as lifelines gives."""
    if survival >= 1.0:
        return 1.0, 1.0
    if survival <= 0.0:
        return 0.0, 0.0
    log_s = math.log(survival)
    spread = z * math.sqrt(greenwood_sum) / log_s  # negative: log_s < 0
    a = math.exp(-math.exp(math.log(-log_s) - spread))
    b = math.exp(-math.exp(math.log(-log_s) + spread))
    return min(a, b), max(a, b)


def kaplan_meier(durations: Sequence[float], events: Sequence[bool], *, z: float = Z95) -> list[Step]:
    """The product-limit estimate at time 0 and at every distinct time observed (event or censoring). At a time
    with both, the censored are still at risk for the events (the usual convention, and lifelines')."""
    if len(durations) != len(events):
        raise ValueError("durations and events must have the same length")
    if any(d < 0 for d in durations):
        raise ValueError("durations must not be negative")
    counts: dict[float, list[int]] = defaultdict(lambda: [0, 0])  # time -> [events, censored]
    for duration, event in zip(durations, events, strict=True):
        counts[float(duration)][0 if event else 1] += 1
    at_risk = len(durations)
    survival, greenwood_sum = 1.0, 0.0
    steps = [] if 0.0 in counts else [Step(0.0, at_risk, 0, 0, 1.0, 1.0, 1.0)]
    for time in sorted(counts):
        died, censored = counts[time]
        if died:
            survival *= 1 - died / at_risk
            # d / (n (n - d)); infinite when everyone at risk has the event, where lifelines counts 0.
            greenwood_sum += died / (at_risk * (at_risk - died)) if at_risk > died else 0.0
        lower, upper = _exponential_greenwood(survival, greenwood_sum, z)
        steps.append(Step(time, at_risk, died, censored, survival, lower, upper))
        at_risk -= died + censored
    return steps


def at_risk_at(durations: Iterable[float], time: float) -> int:
    """Still followed and without the event just before ``time``: those whose time is ``time`` or later."""
    return sum(1 for d in durations if d >= time)


def step_at(steps: Sequence[Step], time: float) -> Step:
    """The step in force at ``time`` (the last at or before it)."""
    current = steps[0]
    for step in steps:
        if step.time > time:
            break
        current = step
    return current


# --- Rows from the registry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    plan_id: int
    product: str
    months: float
    arthroplasty: bool


def _months(start: dt.date, end: dt.date) -> float:
    return max((end - start).days, 0) / DAYS_PER_MONTH


def arthroplasty_rows(plans) -> list[PlanRow]:
    """One row per plan of ``plans`` (a queryset of plans already scoped to the user and annotated with ``first``,
    as outcomes.analysis.cohort.cohort gives): its product, time in months, and whether it ended in a knee
    replacement. Two queries, however many plans."""
    rows = list(
        plans.values("pk", "product", first_on=F("first__injected_on")).annotate(
            last_answered=Max(
                "follow_ups__submission__submitted_at",
                filter=~Q(follow_ups__timepoint=Timepoint.BASELINE),
            ),
        )
    )
    plan_ids = [row["pk"] for row in rows]
    clinic_contact: dict[int, dt.date] = {}
    first_event: dict[int, dt.date] = {}
    for plan_id, kind, month, day, recorded_on in FurtherTreatment.objects.filter(plan_id__in=plan_ids).values_list(
        "plan_id", "kind", "month", "day", "recorded_on"
    ):
        if recorded_on is not None:
            clinic_contact[plan_id] = max(recorded_on, clinic_contact.get(plan_id, recorded_on))
        if kind in ARTHROPLASTY:
            happened = day or month.replace(day=MID_MONTH)
            first_event[plan_id] = min(happened, first_event.get(plan_id, happened))
    result = []
    for row in rows:
        start = row["first_on"]
        if start is None:
            continue
        event = first_event.get(row["pk"])
        if event is not None and event >= start.replace(day=1):
            result.append(PlanRow(row["pk"], row["product"], _months(start, event), True))
            continue
        contacts = [d for d in (row["last_answered"], clinic_contact.get(row["pk"])) if d is not None]
        last = max((d.date() if isinstance(d, dt.datetime) else d for d in contacts), default=start)
        result.append(PlanRow(row["pk"], row["product"], _months(start, last), False))
    return result


# --- The table the page and the CSV show ----------------------------------------------------------------------


@dataclass
class GridRow:
    months: int
    at_risk: int | None  # None: withheld (fewer than the minimum still followed)
    survival: float | None
    lower: float | None
    upper: float | None

    @property
    def survival_pct(self) -> str:
        return _pct(self.survival)

    @property
    def lower_pct(self) -> str:
        return _pct(self.lower)

    @property
    def upper_pct(self) -> str:
        return _pct(self.upper)


@dataclass
class ProductCurve:
    product: str
    label: str
    plans: int
    withheld: bool  # fewer plans than the minimum: nothing shown but that
    steps: list[Step]
    grid: list[GridRow]


def curve_for(product: str, label: str, rows: Sequence[PlanRow], minimum: int) -> ProductCurve:
    """One product's estimate and its grid, small numbers withheld: a product with fewer than ``minimum`` plans
    shows nothing but its count band, and a grid row with 1 to ``minimum`` - 1 still at risk shows no figure
    (a handful at risk would let a reader pick out individuals; outcomes.analysis.disclosure's rule)."""
    durations = [r.months for r in rows]
    events = [r.arthroplasty for r in rows]
    if len(rows) < minimum:
        return ProductCurve(product, label, len(rows), True, [], [])
    steps = kaplan_meier(durations, events)
    grid = []
    for months in GRID_MONTHS:
        at_risk = at_risk_at(durations, months)
        if 0 < at_risk < minimum:
            grid.append(GridRow(months, None, None, None, None))
            continue
        step = step_at(steps, months)
        grid.append(GridRow(months, at_risk, step.survival, step.lower, step.upper))
    return ProductCurve(product, label, len(rows), False, steps, grid)


def by_product(plans, *, minimum: int, labels: dict[str, str]) -> list[ProductCurve]:
    """A curve for every product with plans in ``plans``, in the order of ``labels``."""
    grouped: dict[str, list[PlanRow]] = defaultdict(list)
    for row in arthroplasty_rows(plans):
        grouped[row.product].append(row)
    return [curve_for(code, label, grouped[code], minimum) for code, label in labels.items() if grouped.get(code)]


CSV_COLUMNS = ("product", "plans", "months", "at_risk", "survival_pct", "ci_low_pct", "ci_high_pct", "suppressed")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def csv_rows(curves: Sequence[ProductCurve], minimum: int) -> list[list[str]]:
    """The grid of every curve, one row per product and month; withheld figures left blank and marked."""
    rows = []
    for curve in curves:
        if curve.withheld:
            rows.append([curve.label, f"fewer than {minimum}", "", "", "", "", "", "yes"])
            continue
        for g in curve.grid:
            hidden = g.at_risk is None
            rows.append(
                [
                    curve.label,
                    str(curve.plans),
                    str(g.months),
                    "" if hidden else str(g.at_risk),
                    _pct(g.survival),
                    _pct(g.lower),
                    _pct(g.upper),
                    "yes" if hidden else "",
                ]
            )
    return rows


def chart_data(curves: Sequence[ProductCurve]) -> dict:
    """What static/js/dashboard.js draws: a step line per product shown, survival in % by month."""
    return {
        "curves": [
            {"label": c.label, "points": [{"x": round(s.time, 2), "y": round(100 * s.survival, 2)} for s in c.steps]}
            for c in curves
            if not c.withheld
        ]
    }


__all__ = [
    "GRID_MONTHS",
    "Step",
    "arthroplasty_rows",
    "at_risk_at",
    "by_product",
    "chart_data",
    "csv_rows",
    "kaplan_meier",
    "step_at",
]

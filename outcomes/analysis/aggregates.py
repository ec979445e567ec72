"""The summary's two aggregate queries over the cohort's per-plan summaries (outcomes.models.PlanOutcome).

1. ``outcome_cells``: grouped by (KL grade, compare-by group, what became of each follow-up): per timepoint the
   follow-up status counts, and n / sum / sum of squares of every score, of every change from baseline, plus MCID
   and OMERACT-OARSI counts;
2. ``status_cells``: grouped by (clinic, first injection's clinician, product): follow-up status counts only.

Both are additive, so every figure of the summary is a sum of a few of their cells (``add``), which the builders
of outcomes.analysis.sections make. No row per patient ever reaches Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from outcomes.analysis import plan_outcomes
from outcomes.analysis.cohort import age_band_expression
from outcomes.analysis.expressions import (
    FOLLOW_UP_TIMEPOINTS,
    SAME_KNEES_CORE,
    TIMEPOINTS,
    answered_throughout,
    change,
    is_due,
    reaches_mcid,
    reaches_pass,
    responder_tally,
    score,
    sums,
)
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import FollowUp, FollowUpStatus
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import get_thresholds

# What became of a plan's follow-up at a timepoint. The outcome cells are split by it, so the baseline scores of
# those who answered and of those lost are the baseline sums of the matching cells: no aggregates of their own.
COMPLETED, LOST, OTHER = "completed", "lost", "other"


def short(timepoint: str) -> str:
    """The prefix of a timepoint's columns and aggregates ("b", "m1", "m6")."""
    return SHORT[timepoint]


def _status_counts(prefix: str, today: dt.date) -> dict[str, Any]:
    """Follow-up counts by status at one timepoint, over summary rows (``{prefix}_status``, ``{prefix}_due``)."""
    status, due = f"{prefix}_status", f"{prefix}_due"
    return {
        "plans": Count("pk", filter=Q(**{f"{status}__isnull": False})),
        "completed": Count("pk", filter=Q(**{status: FollowUpStatus.COMPLETED})),
        "missed": Count("pk", filter=Q(**{status: FollowUpStatus.MISSED})),
        "overdue": Count("pk", filter=Q(**{status: FollowUpStatus.OPEN, f"{due}__lt": today})),
        "pending": Count(
            "pk",
            filter=Q(**{status: FollowUpStatus.SCHEDULED}) | Q(**{status: FollowUpStatus.OPEN, f"{due}__gte": today}),
        ),
        "cancelled": Count("pk", filter=Q(**{status: FollowUpStatus.CANCELLED})),
        "not_collected": Count("pk", filter=Q(**{status: FollowUpStatus.NOT_COLLECTED})),
    }


STATUS_KEYS = tuple(_status_counts("b", dt.date.min))


def _status_aggregates(today: dt.date) -> dict[str, Any]:
    """Follow-up counts by status at every timepoint, named ``{short timepoint}__{count}``."""
    return {
        f"{short(tp)}__{key}": aggregate
        for tp in TIMEPOINTS
        for key, aggregate in _status_counts(short(tp), today).items()
    }


# The pain instrument of the responder analysis: OMERACT-OARSI's function domain is KOOS ADL, so KOOS Pain keeps
# the whole rule on one instrument; a knee without KOOS Pain at both timepoints is undecided, never scored by VAS.
RESPONDER_PAIN = "koos.pain"


def _outcome_aggregates(today: dt.date) -> dict[str, Any]:
    thresholds = get_thresholds()
    aggregates: dict[str, Any] = {"plans": Count("pk")}
    for tp in TIMEPOINTS:
        t = short(tp)
        for m in OUTCOME_MEASURES:
            aggregates |= sums(f"{t}_score_{m.column}", score(tp, m.column))
    for tp in FOLLOW_UP_TIMEPOINTS:
        t = short(tp)
        # Knees due at this timepoint: the denominator of every missing-as-non-responder share.
        aggregates[f"{t}_due"] = Count("pk", filter=is_due(tp, today))
        for m in OUTCOME_MEASURES:
            aggregates |= sums(f"{t}_chg_{m.column}", change(tp, m.column))
            # The same change over the knees scored at baseline, 1 and 6 months (the trajectory of one set of
            # patients); at 12 and 24 months, those of them scored then too (later follow-up is young, and products
            # differ in whether they have it: requiring it would leave almost no knees).
            same = answered_throughout(m.column, (*SAME_KNEES_CORE, *((tp,) if tp not in SAME_KNEES_CORE else ())))
            aggregates |= sums(f"{t}_same_{m.column}", change(tp, m.column), same)
            reached = Q(reaches_mcid(tp, m.column, thresholds[m.mcid_key]))
            aggregates[f"{t}_mcid_{m.column}"] = Count("pk", filter=reached)
            if m.pass_key in thresholds:
                in_pass = Q(reaches_pass(tp, m.column, thresholds[m.pass_key]))
                aggregates[f"{t}_pass_{m.column}"] = Count("pk", filter=in_pass)
        aggregates[f"{t}_resp"] = responder_tally(tp, pain=RESPONDER_PAIN)
    return aggregates


def _fate(timepoint: str, today: dt.date) -> Case:
    t = short(timepoint)
    return Case(
        When(**{f"{t}_status": FollowUpStatus.COMPLETED}, then=Value(COMPLETED)),
        When(
            Q(**{f"{t}_status": FollowUpStatus.MISSED})
            | Q(**{f"{t}_status": FollowUpStatus.OPEN, f"{t}_due__lt": today}),
            then=Value(LOST),
        ),
        default=Value(OTHER),
        output_field=CharField(),
    )


# What each "compare by" choice groups the summary rows (outcomes.models.PlanOutcome) on. Ids (clinic, clinician)
# are named after the query, in one lookup.
GROUP_EXPRESSIONS = {
    "product": lambda: F("product"),
    "kl_grade": lambda: F("kl_grade"),
    "age_band": lambda: age_band_expression("age_at_injection"),
    "staged": lambda: Case(
        When(planned_injections__gt=1, then=Value("staged")), default=Value("single"), output_field=CharField()
    ),
    "clinic": lambda: F("clinic_id"),
    "clinician": lambda: F("clinician_id"),
}


def add(cells: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Sum aggregated cells column by column (an empty Sum is NULL: it adds nothing)."""
    keys = list(keys)
    cells = list(cells)
    if not keys or not cells:
        return dict.fromkeys(keys, 0)
    # A row of values per cell (itemgetter builds it in C), then a column at a time: far fewer Python steps than
    # a key at a time, which took a quarter of a summary at 100,000 injections.
    getter = itemgetter(*keys) if len(keys) > 1 else (lambda cell: (cell[keys[0]],))
    try:
        rows = list(map(getter, cells))
    except KeyError:  # a cell without some of the keys: those add nothing
        rows = [tuple(cell.get(key) for key in keys) for cell in cells]
    return {
        key: sum(filter(None, column)) if None in column else sum(column)
        for key, column in zip(keys, zip(*rows, strict=False), strict=True)
    }


def _per_timepoint(cells: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One cell per (group, timepoint) with plain count names, from cells that hold every timepoint's counts."""
    split = []
    for cell in cells:
        keys = {k: v for k, v in cell.items() if "__" not in k}
        for tp in TIMEPOINTS:
            prefix = f"{short(tp)}__"
            split.append(
                {**keys, "tp": tp, **{k.removeprefix(prefix): v for k, v in cell.items() if k.startswith(prefix)}}
            )
    return split


# --- The cohort ----------------------------------------------------------------------------------------------
#
# The cohort (the user's scope and filters) is a few joins over plans, patients and first injections. Every
# aggregate of a summary needs it, so it is evaluated once into a temporary table of plan ids that they all read.
_COHORT_TABLE = "outcomes_summary_cohort"


@contextmanager
def cohort_table(plans: QuerySet, *, table: str = _COHORT_TABLE, hash_joins: bool = False):
    """The ids of ``plans``, as a subquery every aggregate of one summary reads, for the duration of the block.
    ``table``: another name where a caller may run inside a summary's block (outcomes.analysis.expectation).
    ``hash_joins``: forbid nested loops while the ids are worked out (see outcomes.analysis.expectation._cohort)."""
    if not table.isidentifier():
        raise ValueError(f"not a table name: {table!r}")
    sql, params = plans.order_by().values(cohort_plan_id=F("pk")).query.sql_with_params()
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if postgresql and hash_joins:
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}", params)
        if postgresql and hash_joins:
            cursor.execute("RESET enable_nestloop")
        if postgresql:
            cursor.execute(f"ANALYZE {table}")  # so the planner knows how many plans it holds
        try:
            yield RawSQL(f"SELECT cohort_plan_id FROM {table}", ())  # noqa: S608, S611 - a checked identifier
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


# --- Running the aggregates ----------------------------------------------------------------------------------
#
# The ORM takes a long time to turn a couple of hundred conditional aggregates into SQL. The SQL of each aggregate
# query depends only on the database, the grouping and the thresholds, never on the user or the filters, which
# only choose the plans. So it is built by the ORM once per process with a placeholder for the plan ids and a
# stand-in for today's date, and each request compiles only the cheap id query (the scoped, filtered cohort) into it.
# Kept because it is measured to matter (issue 14, PostgreSQL, 30,000 seeded injections = 21,730 plans, a loaded
# 2-core machine): a summary took 445 ms median with the SQL reused against 554 ms compiled on every request (paired
# median difference 109 ms; the two compilations alone 62-76 ms), i.e. a fifth of the request. At the bench's
# 100,000 injections (page 759 ms against 501 ms for the hand-written SQL) that is the margin between the
# dashboard_ratio aim of 1.5 (met at 1.52) and missing it.

_COHORT_MARKER = "SELECT __cohort_plan_ids__"
_TODAY_STANDIN = dt.date(1111, 11, 11)
_PLACEHOLDER = re.compile(r"(?<!%)%s")


@dataclass(frozen=True)
class _CompiledAggregate:
    head: str  # SQL before the plan-id placeholder
    tail: str
    head_params: tuple
    tail_params: tuple
    aggregates: tuple[str, ...]  # names of the aggregate columns (the rest are the grouping)

    def render(self, ids_sql: str, ids_params: tuple, today: dt.date) -> tuple[str, list]:
        # The backend may have adapted the date already (SQLite binds dates as ISO text).
        adapted = {_TODAY_STANDIN: today, _TODAY_STANDIN.isoformat(): today.isoformat()}

        def swap(params):
            return [adapted.get(p, p) if isinstance(p, dt.date | str) else p for p in params]

        return self.head + ids_sql + self.tail, [*swap(self.head_params), *ids_params, *swap(self.tail_params)]


_compiled: dict[tuple, _CompiledAggregate] = {}


def _compile(rows: QuerySet, grouping: dict[str, Any], aggregates: dict[str, Any]) -> _CompiledAggregate:
    sql, params = rows.values(**grouping).annotate(**aggregates).order_by().query.sql_with_params()
    head, marker, tail = sql.partition(_COHORT_MARKER)
    if not marker or _COHORT_MARKER in tail:  # pragma: no cover - a Django upgrade changed how RawSQL renders
        raise RuntimeError("outcome aggregate SQL: plan-id placeholder not found exactly once")
    cut = len(_PLACEHOLDER.findall(head))
    return _CompiledAggregate(head, tail, tuple(params[:cut]), tuple(params[cut:]), tuple(aggregates))


def grouped_rows(
    name: str,
    grouping: Callable[[], dict[str, Any]],
    aggregates: Callable[[dt.date], dict[str, Any]],
    plan_ids: RawSQL,
    today: dt.date,
) -> tuple[list[dict], tuple[str, ...]]:
    """Rows of one aggregate query over the summary rows of the plans in ``plan_ids``, and the names of its
    aggregate columns. ``grouping`` and ``aggregates`` are built on first use."""
    thresholds = tuple(sorted((k, t.value, t.direction) for k, t in get_thresholds().items()))
    key = (connection.vendor, name, thresholds)
    compiled = _compiled.get(key)
    if compiled is None:
        marker = RawSQL(_COHORT_MARKER, ())  # noqa: S611 - a constant, replaced before execution
        rows = plan_outcomes.summary_rows(marker)
        compiled = _compiled[key] = _compile(rows, grouping(), aggregates(_TODAY_STANDIN))
    sql, params = compiled.render(plan_ids.sql, tuple(plan_ids.params), today)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT-compiling a hundred-odd aggregate expressions costs more than it saves here (about a second
            # at 100,000 injections), and PostgreSQL's cost model cannot tell.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()], compiled.aggregates


def outcome_cells(compare_by: str, plan_ids: RawSQL, today: dt.date) -> tuple[list[dict], tuple[str, ...]]:
    """Query 1: cells keyed ``kl`` (KL grade), ``grp`` (the compare-by group) and ``fate_<t>`` (what became of
    each follow-up), with every outcome aggregate; and the aggregates' names."""

    def grouping() -> dict[str, Any]:
        return {
            "kl": F("kl_grade"),
            "grp": GROUP_EXPRESSIONS[compare_by](),
            **{f"fate_{short(tp)}": _fate(tp, _TODAY_STANDIN) for tp in FOLLOW_UP_TIMEPOINTS},
        }

    return grouped_rows(f"outcomes:{compare_by}", grouping, _outcome_aggregates, plan_ids, today)


def status_cells(plan_ids: RawSQL, today: dt.date) -> list[dict[str, Any]]:
    """Query 2: one cell per (clinic_key, clinician_key, prod, timepoint ``tp``) with the follow-up status counts
    (``STATUS_KEYS``)."""

    def grouping() -> dict[str, Any]:
        return {"clinic_key": F("clinic_id"), "clinician_key": F("clinician_id"), "prod": F("first_product")}

    cells, _ = grouped_rows("follow-ups", grouping, _status_aggregates, plan_ids, today)
    return _per_timepoint(cells)


def safety_check_cells(plan_ids: RawSQL, today: dt.date) -> list[dict[str, Any]]:
    """Query 3: the early safety checks' status counts (``STATUS_KEYS``), one cell per timepoint ``tp``. They are
    not outcome timepoints, so the plans' summaries (PlanOutcome) leave them out; their follow-ups are counted here
    directly, the same way (open past its due day counts as lost)."""
    open_ = Q(status=FollowUpStatus.OPEN)
    counts = {
        "plans": Count("pk"),
        "completed": Count("pk", filter=Q(status=FollowUpStatus.COMPLETED)),
        "missed": Count("pk", filter=Q(status=FollowUpStatus.MISSED)),
        "overdue": Count("pk", filter=open_ & Q(due_on__lt=today)),
        "pending": Count("pk", filter=Q(status=FollowUpStatus.SCHEDULED) | (open_ & Q(due_on__gte=today))),
        "cancelled": Count("pk", filter=Q(status=FollowUpStatus.CANCELLED)),
        "not_collected": Count("pk", filter=Q(status=FollowUpStatus.NOT_COLLECTED)),
    }
    rows = (
        FollowUp.objects.filter(plan_id__in=plan_ids, timepoint__in=SAFETY_CHECK_TIMEPOINTS)
        .values("timepoint")
        .annotate(**counts)
        .order_by()
    )
    return [{"tp": row.pop("timepoint"), **row} for row in rows]


__all__ = [
    "COMPLETED",
    "GROUP_EXPRESSIONS",
    "LOST",
    "OTHER",
    "RESPONDER_PAIN",
    "STATUS_KEYS",
    "add",
    "cohort_table",
    "grouped_rows",
    "outcome_cells",
    "safety_check_cells",
    "short",
    "status_cells",
]

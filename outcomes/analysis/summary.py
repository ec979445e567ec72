"""The outcomes summary: what the dashboard, its CSV files and ``GET /api/v1/outcomes/summary/`` show.

Two aggregate queries do the work, whatever the number of patients:

1. the cohort's per-plan outcome summaries (outcomes.models.PlanOutcome: one row per plan with its scores and
   follow-up statuses at every timepoint, kept by triggers and outcomes.analysis.plan_outcomes) grouped by
   (KL grade, compare-by group): per timepoint the follow-up status counts, and n / sum /
   sum of squares of every score, of every change from baseline and of the baseline scores of plans that did
   and did not complete each follow-up, plus MCID and OMERACT-OARSI counts;
2. the same summaries grouped by (clinic, first injection's clinician, product): follow-up status counts only.

These are additive, so the overall figures, the per-KL-grade rows and the per-group rows are sums of the first
query's few cells (at most 5 grades x the groups), and the loss-to-follow-up tables sums of the second's. Means,
SDs and CIs then come from the sums (outcomes.analysis.stats). No row per patient ever reaches Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from outcomes.analysis import adverse_events, disclosure, plan_outcomes
from outcomes.analysis.cohort import age_band_expression, cohort
from outcomes.analysis.expressions import (
    FOLLOW_UP_TIMEPOINTS,
    TIMEPOINTS,
    change,
    reaches_mcid,
    responder_counts,
    responder_tally,
    score,
    sums,
)
from outcomes.analysis.filters import OutcomeFilter
from outcomes.analysis.stats import mean_ci, share
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import FollowUpStatus, Timepoint
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import get_thresholds
from registry.choices import Product
from registry.scoping import clinics_for

TIMEPOINT_LABELS = dict(Timepoint.choices)
STAGED_LABELS = {"single": "Single injection", "staged": "Staged plan"}

DEFINITIONS = {
    "unit": "A plan: one knee's course of treatment (one injection, or a staged series), counted from its first "
    "injection. Only given injections, and patients who consent to analysis.",
    "completion": "Completed / (completed + missed + open past its due date). Follow-ups not yet due, cancelled "
    "ones, and baselines not collected because the injection was recorded after the baseline could still be "
    'answered (counted apart as "not collected", never as missed) are not in the denominator.',
    "change": "Follow-up score minus the same plan's baseline score; only plans scored at both.",
    "ci": "95 % confidence interval of the mean: mean +/- t(0.975, n-1) x SD / sqrt(n).",
    "mcid": "Share of plans whose change reaches the minimal clinically important difference in the direction of "
    "improvement (a rise for KOOS and OKS, a fall for VAS pain), of the plans with a change.",
    "responder": "OMERACT-OARSI 2004 responders (pain from KOOS Pain, or VAS when KOOS Pain is missing; function "
    "from KOOS ADL; patient global), of the plans the rule can decide.",
    "lost": "Lost: the follow-up was missed, or is open past its due date.",
}


class InvalidFilters(Exception):
    def __init__(self, errors: Mapping[str, Any]):
        super().__init__("invalid filters")
        self.errors = errors


def _short(timepoint: str) -> str:
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


def _status_aggregates(today: dt.date) -> dict[str, Any]:
    """Follow-up counts by status at every timepoint, named ``{short timepoint}__{count}``."""
    return {
        f"{_short(tp)}__{key}": aggregate
        for tp in TIMEPOINTS
        for key, aggregate in _status_counts(_short(tp), today).items()
    }


def _per_timepoint(cells: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One cell per (group, timepoint) with plain count names, from cells that hold every timepoint's counts."""
    split = []
    for cell in cells:
        keys = {k: v for k, v in cell.items() if "__" not in k}
        for tp in TIMEPOINTS:
            prefix = f"{_short(tp)}__"
            split.append(
                {**keys, "tp": tp, **{k.removeprefix(prefix): v for k, v in cell.items() if k.startswith(prefix)}}
            )
    return split


STATUS_KEYS = tuple(_status_counts("b", dt.date.min))


def _outcome_aggregates(today: dt.date) -> dict[str, Any]:
    thresholds = get_thresholds()
    aggregates: dict[str, Any] = {"plans": Count("pk")}
    for tp in TIMEPOINTS:
        t = _short(tp)
        for m in OUTCOME_MEASURES:
            aggregates |= sums(f"{t}_score_{m.column}", score(tp, m.column))
    for tp in FOLLOW_UP_TIMEPOINTS:
        t = _short(tp)
        for m in OUTCOME_MEASURES:
            aggregates |= sums(f"{t}_chg_{m.column}", change(tp, m.column))
            reached = Q(reaches_mcid(tp, m.column, thresholds[m.mcid_key]))
            aggregates[f"{t}_mcid_{m.column}"] = Count("pk", filter=reached)
        aggregates[f"{t}_resp"] = responder_tally(tp)
    return aggregates


# Cells are also split by what became of each follow-up (completed, lost, other), so the baseline scores of
# those who answered and of those lost are the baseline sums of the matching cells: no aggregates of their own.
COMPLETED, LOST, OTHER = "completed", "lost", "other"


def _fate(timepoint: str, today: dt.date) -> Case:
    t = _short(timepoint)
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


def _add(cells: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Sum aggregated cells column by column (an empty Sum is NULL: it adds nothing)."""
    total: dict[str, float] = dict.fromkeys(keys, 0)
    for cell in cells:
        for key in total:
            value = cell.get(key)
            if value is not None:
                total[key] += value
    return total


def _completion(cells: list[Mapping[str, Any]], tp: str) -> dict[str, Any]:
    s = _add([c for c in cells if c["tp"] == tp], STATUS_KEYS)
    due = s["completed"] + s["missed"] + s["overdue"]
    return {
        "timepoint": tp,
        "label": TIMEPOINT_LABELS[tp],
        "plans": int(s["plans"]),
        "completed": int(s["completed"]),
        "missed": int(s["missed"]),
        "open_overdue": int(s["overdue"]),
        "not_yet_due": int(s["pending"]),
        "cancelled": int(s["cancelled"]),
        "not_collected": int(s["not_collected"]),
        "due": int(due),
        "completion": share(s["completed"], due).as_dict(),
    }


def _mean(s: Mapping[str, float], prefix: str) -> dict[str, Any]:
    return mean_ci(s[f"{prefix}_n"], s[f"{prefix}_s"], s[f"{prefix}_ss"]).as_dict()


def _outcomes(s: Mapping[str, float]) -> dict[str, Any]:
    """Scores, changes, MCID and responders per timepoint, from one set of sums."""
    thresholds = get_thresholds()
    timepoints = []
    for tp in TIMEPOINTS:
        t = _short(tp)
        entry: dict[str, Any] = {"timepoint": tp, "label": TIMEPOINT_LABELS[tp], "measures": []}
        for m in OUTCOME_MEASURES:
            row: dict[str, Any] = {"measure": m.column, "label": m.label, "score": _mean(s, f"{t}_score_{m.column}")}
            if tp in FOLLOW_UP_TIMEPOINTS:
                row["change"] = _mean(s, f"{t}_chg_{m.column}")
                row["mcid"] = {
                    **share(s[f"{t}_mcid_{m.column}"], s[f"{t}_chg_{m.column}_n"]).as_dict(),
                    "threshold": thresholds[m.mcid_key].value,
                    "direction": thresholds[m.mcid_key].direction,
                }
            else:
                row["change"] = None
                row["mcid"] = None
            entry["measures"].append(row)
        entry["responders"] = share(*responder_counts(s[f"{t}_resp"])).as_dict() if tp != "baseline" else None
        timepoints.append(entry)
    return {"timepoints": timepoints}


def _baseline_by_completion(cells: list[Mapping[str, Any]], keys: Iterable[str]) -> list[dict[str, Any]]:
    rows = []
    for tp in FOLLOW_UP_TIMEPOINTS:
        fate = f"fate_{_short(tp)}"
        completed = _add([c for c in cells if c[fate] == COMPLETED], keys)
        lost = _add([c for c in cells if c[fate] == LOST], keys)
        for m in OUTCOME_MEASURES:
            rows.append(
                {
                    "timepoint": tp,
                    "timepoint_label": TIMEPOINT_LABELS[tp],
                    "measure": m.column,
                    "label": m.label,
                    "completed": _mean(completed, f"b_score_{m.column}"),
                    "lost": _mean(lost, f"b_score_{m.column}"),
                }
            )
    return rows


def _clinician_names(ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids).only("pk", "first_name", "last_name", "username")
    return {u.pk: (u.get_full_name() or u.get_username()) for u in users}


def _labeller(compare_by: str, clinics: Mapping[int, str], clinicians: Mapping[int, str]):
    products = dict(Product.choices)

    def label(key) -> str:
        if key is None or key == "":
            return "Not recorded"
        if compare_by == "product":
            return str(products.get(key, key))
        if compare_by == "kl_grade":
            return f"KL {key}"
        if compare_by == "staged":
            return STAGED_LABELS.get(key, key)
        if compare_by == "clinic":
            return clinics.get(key, f"Clinic {key}")
        if compare_by == "clinician":
            return clinicians.get(key, f"Clinician {key}")
        return str(key)

    return label


def _sort_key(key) -> tuple:
    return (key is None, str(key) if not isinstance(key, int) else f"{key:09d}")


# --- Running the aggregates ------------------------------------------------------------------------------------
#
# Django takes a quarter of a second to turn a couple of hundred conditional aggregates into SQL, longer than the
# database takes to run them over a small registry. The SQL of each aggregate query depends only on the database,
# the grouping and the thresholds, never on the user or the filters, which only choose the plans. So it is built
# by the ORM once per process with a placeholder for the plan ids and a stand-in for today's date, and each request
# compiles only the cheap id query (the scoped, filtered cohort) into it.

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


# The cohort (the user's scope and filters) is a few joins over plans, patients and first injections. Every
# aggregate of a summary needs it, so it is evaluated once into a temporary table of plan ids that they all read.
_COHORT_TABLE = "outcomes_summary_cohort"


@contextmanager
def _cohort_table(plans: QuerySet):
    sql, params = plans.order_by().values(cohort_plan_id=F("pk")).query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_COHORT_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {_COHORT_TABLE} AS {sql}", params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {_COHORT_TABLE}")  # so the planner knows how many plans it holds
        try:
            yield RawSQL(f"SELECT cohort_plan_id FROM {_COHORT_TABLE}", ())  # noqa: S608, S611 - a constant
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {_COHORT_TABLE}")


def _run(name: str, rows, grouping, aggregates, plan_ids: RawSQL, today: dt.date) -> tuple[list[dict], tuple[str, ...]]:
    """Rows of one aggregate query over the plans in ``plan_ids``, and the names of its aggregate columns.
    ``rows(plan_ids)`` is the queryset aggregated; it, ``grouping`` and ``aggregates`` are built on first use."""
    thresholds = tuple(sorted((k, t.value, t.direction) for k, t in get_thresholds().items()))
    key = (connection.vendor, name, thresholds)
    compiled = _compiled.get(key)
    if compiled is None:
        marker = RawSQL(_COHORT_MARKER, ())  # noqa: S611 - a constant, replaced before execution
        compiled = _compiled[key] = _compile(rows(marker), grouping(), aggregates(_TODAY_STANDIN))
    sql, params = compiled.render(plan_ids.sql, tuple(plan_ids.params), today)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT-compiling a hundred-odd aggregate expressions costs more than it saves here (about a second
            # at 100,000 injections), and PostgreSQL's cost model cannot tell.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()], compiled.aggregates


def compute(
    filterset: OutcomeFilter, clinics: Mapping[int, str], *, today: dt.date, refresh: bool = True
) -> dict[str, Any]:
    """The summary for a validated filter set over a scoped cohort (see ``outcomes_summary``)."""
    compare_by = filterset.compare_by_value
    # Plans changed since their summary row was built are rebuilt first (usually none: a task keeps up).
    if refresh:
        plan_outcomes.refresh()
    with _cohort_table(filterset.qs) as plan_ids:
        cells, keys = _run(
            f"outcomes:{compare_by}",
            plan_outcomes.summary_rows,
            lambda: {
                "kl": F("kl_grade"),
                "grp": GROUP_EXPRESSIONS[compare_by](),
                **{f"fate_{_short(tp)}": _fate(tp, _TODAY_STANDIN) for tp in FOLLOW_UP_TIMEPOINTS},
            },
            _outcome_aggregates,
            plan_ids,
            today,
        )
        status_cells, _ = _run(
            "follow-ups",
            plan_outcomes.summary_rows,
            lambda: {
                "clinic_key": F("clinic_id"),
                "clinician_key": F("clinician_id"),
                "prod": F("first_product"),
            },
            _status_aggregates,
            plan_ids,
            today,
        )
        adverse = adverse_events.per_100_injections(plan_ids)
    loss_cells = _per_timepoint(status_cells)
    clinician_ids = {c["clinician_key"] for c in loss_cells}
    if compare_by == "clinician":
        clinician_ids |= {c["grp"] for c in cells}
    clinicians = _clinician_names(clinician_ids)

    overall = _add(cells, keys)
    by_kl: dict[Any, list] = defaultdict(list)
    by_group: dict[Any, list] = defaultdict(list)
    for cell in cells:
        by_kl[cell["kl"]].append(cell)
        by_group[cell["grp"]].append(cell)

    group_label = _labeller(compare_by, clinics, clinicians)
    groups = []
    for key in sorted(by_group, key=_sort_key):
        s = _add(by_group[key], keys)
        groups.append({"key": str(key), "label": group_label(key), "plans": int(s["plans"]), **_outcomes(s)})

    responders_by_kl = []
    for grade in sorted(k for k in by_kl if k is not None):
        s = _add(by_kl[grade], keys)
        responders_by_kl.append(
            {
                "kl_grade": grade,
                "label": f"KL {grade}",
                "plans": int(s["plans"]),
                "timepoints": [
                    {
                        "timepoint": tp,
                        "label": TIMEPOINT_LABELS[tp],
                        "responders": share(*responder_counts(s[f"{_short(tp)}_resp"])).as_dict(),
                        "mcid_koos_pain": share(
                            s[f"{_short(tp)}_mcid_koos_pain"], s[f"{_short(tp)}_chg_koos_pain_n"]
                        ).as_dict(),
                    }
                    for tp in FOLLOW_UP_TIMEPOINTS
                ],
            }
        )

    products = dict(Product.choices)
    dimensions = {
        "clinic": ("clinic_key", lambda k: clinics.get(k, f"Clinic {k}")),
        "clinician": ("clinician_key", lambda k: clinicians.get(k, f"Clinician {k}")),
        "product": ("prod", lambda k: str(products.get(k, k))),
    }
    loss: dict[str, Any] = {}
    for name, (column, label) in dimensions.items():
        split: dict[Any, list] = defaultdict(list)
        for cell in loss_cells:
            split[cell[column]].append(cell)
        rows = []
        for key in sorted(split, key=lambda k: label(k).lower()):
            rows.append(
                {"key": str(key), "label": label(key), "timepoints": [_completion(split[key], tp) for tp in TIMEPOINTS]}
            )
        loss[f"by_{name}"] = rows
    loss["baseline_by_completion"] = _baseline_by_completion(cells, keys)

    thresholds = get_thresholds()
    return {
        "generated_at": timezone.now().isoformat(),
        "as_of": today.isoformat(),
        "filters": filterset.active(),
        "compare_by": compare_by,
        "definitions": DEFINITIONS,
        "thresholds": [
            {
                "measure": m.column,
                "label": m.label,
                "value": thresholds[m.mcid_key].value,
                "direction": thresholds[m.mcid_key].direction,
                "source": thresholds[m.mcid_key].source,
            }
            for m in OUTCOME_MEASURES
        ],
        "plans": int(overall["plans"]),
        "completion": [_completion(loss_cells, tp) for tp in TIMEPOINTS],
        **_outcomes(overall),
        "groups": groups,
        "responders_by_kl": responders_by_kl,
        "loss_to_follow_up": loss,
        "adverse_events": adverse,
    }


def filterset_for(user, params: Mapping[str, Any]) -> tuple[OutcomeFilter, dict[int, str]]:
    """The bound filter set over the user's cohort, and the user's clinics ({id: name})."""
    clinics = dict(clinics_for(user).values_list("id", "name"))
    return OutcomeFilter(params, queryset=cohort(user), clinics=clinics), clinics


def summarise(user, filterset: OutcomeFilter, clinics: Mapping[int, str], *, today: dt.date | None = None) -> dict:
    """``compute``, cached briefly per user, filters and clinic data version (see outcomes.analysis.cache)."""
    from outcomes.analysis import cache as summary_cache

    if not filterset.is_valid():
        raise InvalidFilters(filterset.errors)
    today = today or timezone.localdate()
    # Queued changes first: rebuilding their plans bumps their clinics' data versions, which the key is made of.
    plan_outcomes.refresh()
    key = summary_cache.key_for(user, filterset.form.cleaned_data, clinics, today)
    cached = summary_cache.load(key)
    if cached is not None:
        return cached
    result = compute(filterset, clinics, today=today, refresh=False)  # refreshed above
    summary_cache.store(key, result)
    return result


def protected_summary(
    user, filterset: OutcomeFilter, clinics: Mapping[int, str], *, today: dt.date | None = None, exact=None
) -> dict:
    """The summary as a download shows it (outcomes.analysis.disclosure.protect), cached beside the exact one and
    recomputed whenever that one is (a dashboard's twelve files protect it once). ``exact``: that summary, when
    the caller has it already."""
    from outcomes.analysis import cache as summary_cache

    summary = exact if exact is not None else summarise(user, filterset, clinics, today=today)
    key = summary_cache.protected_key_for(user, filterset.form.cleaned_data, summary["generated_at"])
    cached = summary_cache.load(key)
    if cached is not None:
        return cached
    result = disclosure.protect(summary)
    summary_cache.store(key, result)
    return result


def outcomes_summary(user, params: Mapping[str, Any], *, today: dt.date | None = None) -> dict[str, Any]:
    """The summary of the user's cohort narrowed by ``params`` (OutcomeFilter's GET parameters), exact: what the
    dashboard page shows its staff. Raises InvalidFilters."""
    filterset, clinics = filterset_for(user, params)
    return summarise(user, filterset, clinics, today=today)


NO_FILTERS = (
    "Downloads and the summary API describe all your clinics' plans and take no filters (only compare_by): two "
    "files of different filters could be subtracted to reveal a small group. Filter on the dashboard page."
)


def released_summary(user, params: Mapping[str, Any], *, channel: str, today: dt.date | None = None) -> dict:
    """The summary as ``channel`` ("page", "csv", "api") may show it (outcomes.analysis.disclosure decides).
    Raises InvalidFilters, also for a filter where the channel takes none."""
    if not disclosure.takes_filters(channel):
        refused = {
            name: [NO_FILTERS]
            for name in OutcomeFilter.base_filters
            if name != "compare_by" and params.get(name) not in (None, "")
        }
        if refused:
            raise InvalidFilters(refused)
        params = {"compare_by": params["compare_by"]} if params.get("compare_by") else {}
    filterset, clinics = filterset_for(user, params)
    if disclosure.CHANNELS[channel] == disclosure.PROTECTED:
        return protected_summary(user, filterset, clinics, today=today)
    return disclosure.release(summarise(user, filterset, clinics, today=today), channel)

"""The outcomes summary: what the dashboard, its CSV files and ``GET /api/v1/outcomes/summary/`` show.

``compute`` runs two aggregate queries over the cohort's per-plan summaries (outcomes.analysis.aggregates), whatever
the number of patients, and hands their cells to one builder per section of the summary
(outcomes.analysis.sections). The functions below it cache the result and release it per channel (page, CSV, API).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from outcomes.analysis import adverse_events, aggregates, disclosure, plan_outcomes, sections
from outcomes.analysis.cohort import cohort
from outcomes.analysis.filters import OutcomeFilter
from registry.scoping import clinics_for


class InvalidFilters(Exception):
    def __init__(self, errors: Mapping[str, Any]):
        super().__init__("invalid filters")
        self.errors = errors


def compute(
    filterset: OutcomeFilter, clinics: Mapping[int, str], *, today: dt.date, refresh: bool = True
) -> dict[str, Any]:
    """The summary for a validated filter set over a scoped cohort (see ``outcomes_summary``)."""
    compare_by = filterset.compare_by_value
    # Plans changed since their summary row was built are rebuilt first (usually none: a task keeps up).
    if refresh:
        plan_outcomes.refresh()
    with aggregates.cohort_table(filterset.qs) as plan_ids:
        cells, keys = aggregates.outcome_cells(compare_by, plan_ids, today)
        status_cells = aggregates.status_cells(plan_ids, today)
        safety_check_cells = aggregates.safety_check_cells(plan_ids, today)
        adverse = adverse_events.per_100_injections(plan_ids)
    clinician_ids = {c["clinician_key"] for c in status_cells}
    if compare_by == "clinician":
        clinician_ids |= {c["grp"] for c in cells}
    clinicians = sections.clinician_names(clinician_ids)
    overall = aggregates.add(cells, keys)
    return {
        "generated_at": timezone.now().isoformat(),
        "as_of": today.isoformat(),
        "filters": filterset.active(),
        "compare_by": compare_by,
        "definitions": sections.DEFINITIONS,
        "thresholds": sections.thresholds(),
        "plans": int(overall["plans"]),
        "completion": [
            *sections.completion_by_timepoint(status_cells),
            *sections.safety_check_completion(safety_check_cells),
        ],
        **sections.outcomes(overall),
        "groups": sections.groups(cells, keys, sections.group_labeller(compare_by, clinics, clinicians)),
        "responders_by_kl": sections.responders_by_kl(cells, keys),
        "loss_to_follow_up": sections.loss_to_follow_up(status_cells, cells, keys, clinics, clinicians),
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


def adjusted_summary(user, filterset: OutcomeFilter, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The adjusted comparison of products (outcomes.analysis.adjusted) over the same cohort as ``summary``, cached
    beside it and recomputed whenever it is. For the page only (exact channel)."""
    from outcomes.analysis import adjusted
    from outcomes.analysis import cache as summary_cache

    key = summary_cache.protected_key_for(user, filterset.form.cleaned_data, summary["generated_at"]) + ":adjusted"
    cached = summary_cache.load(key)
    if cached is not None:
        return cached["comparisons"]
    comparisons = adjusted.adjusted_comparisons(filterset.qs)
    summary_cache.store(key, {"comparisons": comparisons})
    return comparisons


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

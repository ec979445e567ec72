"""Adverse events per 100 injections, by product and seriousness, with exact 95% intervals, for the dashboard.

Events are safety's data, and safety sits above outcomes (imports point down), so outcomes never names safety's
models: safety hands its selector in at start-up (``provide``, called from safety/apps.py). Each event counts
once, under its index injection; counts come from one grouped query each for events and injections, within the
same cohort of plans. Until a selector is provided (outcomes installed alone) the section says so, never shows
made-up numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Count

from outcomes.analysis.stats import clopper_pearson
from registry.choices import InjectionStatus, Product
from registry.models import Injection

# (given injections, by) -> (product, is_serious, events) per product and seriousness, events counted per index
# injection; ``by`` "product" groups by the index injection's product, "plan_product" by its plan's.
EventCounter = Callable[..., Iterable[tuple[str, bool, int]]]

_count_events: EventCounter | None = None
UNAVAILABLE = "Adverse events are not recorded in this registry yet."
NOTE = (
    "Events per 100 given injections, with exact (Clopper-Pearson) 95% intervals; products given without events are "
    "shown with 0."
)


def provide(count_events: EventCounter | None) -> None:
    """Plug in the app that records adverse events (safety, at start-up); None unplugs it."""
    global _count_events
    _count_events = count_events


def per_100_injections(plan_ids) -> dict[str, Any]:
    """``plan_ids``: the cohort's plan ids (a queryset of ids, or raw SQL).

    Every product given appears with both seriousnesses, with no events too: "0 of 212, upper 95% 1.7%" is what a
    safety reader needs to know about a product. Each rate carries its exact (Clopper-Pearson) 95% interval per
    100 injections: events of injections, as a binomial proportion (exact when an injection has at most one
    event of a seriousness, the usual case)."""
    if _count_events is None:
        return {"available": False, "note": UNAVAILABLE, "rows": []}
    injections = Injection.objects.filter(plan_id__in=plan_ids, status=InjectionStatus.GIVEN)
    given = dict(injections.values_list("product").annotate(n=Count("pk")).order_by())
    products = dict(Product.choices)
    counted = {(product, bool(serious)): n for product, serious, n in _count_events(injections)}
    for product in given:
        for serious in (False, True):
            counted.setdefault((product, serious), 0)
    rows = [
        _row(product, str(products.get(product, product)), serious, n, given.get(product, 0))
        for (product, serious), n in sorted(counted.items(), key=lambda r: (str(r[0][0]), str(r[0][1])))
    ]
    return {
        "available": True,
        "note": NOTE,
        "rows": rows,
    }


def per_plan_product(plan_ids) -> dict[str, dict[str, int]] | None:
    """Given injections and their adverse events by seriousness, per product of the plans in ``plan_ids`` (a plan's
    injections may name another product: they count under the plan's), in two grouped queries:
    {plan product: {"injections": n, "Non-serious": events, "Serious": events}}. None until a selector of events
    is provided."""
    if _count_events is None:
        return None
    injections = Injection.objects.filter(plan_id__in=plan_ids, status=InjectionStatus.GIVEN)
    out = {
        product: {"injections": n, "Non-serious": 0, "Serious": 0}
        for product, n in injections.values_list("plan__product").annotate(n=Count("pk")).order_by()
    }
    for product, serious, n in _count_events(injections, by="plan_product"):
        out[product]["Serious" if serious else "Non-serious"] += n
    return out


def _row(product: str, label: str, serious: bool, events: int, injections: int) -> dict[str, Any]:
    # Several events under one injection can make events outnumber injections: no binomial interval then.
    interval = clopper_pearson(events, injections) if injections and events <= injections else None
    return {
        "product": product,
        "label": label,
        "seriousness": "Serious" if serious else "Non-serious",
        "events": events,
        "injections": injections,
        "per_100": (100.0 * events / injections) if injections else None,
        "ci_low": 100.0 * interval[0] if interval else None,
        "ci_high": 100.0 * interval[1] if interval else None,
    }

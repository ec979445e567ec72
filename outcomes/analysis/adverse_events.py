"""Adverse events per 100 injections, by product and seriousness, for the dashboard.

Events are safety's data, and safety sits above outcomes (imports point down), so outcomes never names safety's
models: safety hands its selector in at start-up (``provide``, called from safety/apps.py). Each event counts
once, under its index injection; counts come from one grouped query each for events and injections, within the
same cohort of plans. Until a selector is provided (outcomes installed alone) the section says so, never shows
made-up numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Count, QuerySet

from registry.choices import InjectionStatus, Product
from registry.models import Injection

# (given injections) -> (product, is_serious, events) per product and seriousness, events counted per index injection.
EventCounter = Callable[[QuerySet[Injection]], Iterable[tuple[str, bool, int]]]

_count_events: EventCounter | None = None


def provide(count_events: EventCounter | None) -> None:
    """Plug in the app that records adverse events (safety, at start-up); None unplugs it."""
    global _count_events
    _count_events = count_events


def per_100_injections(plan_ids) -> dict[str, Any]:
    """``plan_ids``: the cohort's plan ids (a queryset of ids, or raw SQL)."""
    if _count_events is None:
        return {"available": False, "note": "Adverse events are not recorded in this registry yet.", "rows": []}
    injections = Injection.objects.filter(plan_id__in=plan_ids, status=InjectionStatus.GIVEN)
    given = dict(injections.values_list("product").annotate(n=Count("pk")).order_by())
    products = dict(Product.choices)
    rows = [
        {
            "product": product,
            "label": str(products.get(product, product)),
            "seriousness": "Serious" if serious else "Non-serious",
            "events": n,
            "injections": given.get(product, 0),
            "per_100": (100.0 * n / given[product]) if given.get(product) else None,
        }
        for product, serious, n in sorted(_count_events(injections), key=lambda r: (str(r[0]), str(r[1])))
    ]
    return {"available": True, "note": "Events per 100 given injections.", "rows": rows}

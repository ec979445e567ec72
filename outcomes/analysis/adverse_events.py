"""Adverse events per 100 injections, by product and seriousness.

Events live in the safety app, which sits above outcomes, so the model is looked up by name rather than
imported (imports point down). Each event counts once, under its index injection (the latest linked injection
given on or before onset); counts come from one grouped query each for events and injections, within the same
cohort of plans. Without the safety app this returns an empty, clearly labelled result, never made-up numbers.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count

from registry.choices import InjectionStatus, Product
from registry.models import Injection

CANDIDATES = (("safety", "AdverseEvent"), ("outcomes", "AdverseEvent"))


def adverse_event_model():
    for app_label, name in CANDIDATES:
        if apps.is_installed(app_label):
            try:
                return apps.get_model(app_label, name)
            except LookupError:
                continue
    return None


def _field(model, *names: str) -> str | None:
    for name in names:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        return name
    return None


def _unavailable(note: str) -> dict[str, Any]:
    return {"available": False, "note": note, "rows": []}


def per_100_injections(plan_ids) -> dict[str, Any]:
    """``plan_ids``: the cohort's plan ids (a queryset of ids, or raw SQL)."""
    model = adverse_event_model()
    if model is None:
        return _unavailable("Adverse events are not recorded in this registry yet.")
    seriousness = _field(model, "is_serious", "seriousness", "serious")
    injection = _field(model, "index_injection", "injection")
    if injection is None or seriousness is None:
        return _unavailable("Adverse events are recorded, but not per injection with a seriousness.")
    injections = Injection.objects.filter(plan_id__in=plan_ids, status=InjectionStatus.GIVEN)
    given = dict(injections.values_list("product").annotate(n=Count("pk")).order_by())
    events = (
        model.objects.filter(**{f"{injection}__in": injections.values("pk")})
        .values_list(f"{injection}__product", seriousness)
        .annotate(n=Count("pk"))
        .order_by()
    )
    products = dict(Product.choices)
    rows = [
        {
            "product": product,
            "label": str(products.get(product, product)),
            "seriousness": ("Serious" if level else "Non-serious") if isinstance(level, bool) else str(level),
            "events": n,
            "injections": given.get(product, 0),
            "per_100": (100.0 * n / given[product]) if given.get(product) else None,
        }
        for product, level, n in sorted(events, key=lambda r: (str(r[0]), str(r[1])))
    ]
    return {"available": True, "note": "Events per 100 given injections.", "rows": rows}

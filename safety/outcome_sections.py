"""Safety's part of outcomes' pages: adverse events on the dashboard, flags on a patient's trajectory.

Outcomes sits below safety and cannot import it, so these selectors are handed to outcomes at start-up
(safety/apps.py): outcomes.analysis.adverse_events.provide and outcomes.analysis.trajectory.provide_flags.
Both are called with data the caller has already scoped (the dashboard's cohort, a patient the page found
through registry.scoping)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from registry.models import Injection, Patient
from safety.models import AdverseEvent, Flag

# What the events may be grouped by: the index injection's product, or its plan's (a plan's reference group).
EVENT_GROUPS = {"product": "index_injection__product", "plan_product": "index_injection__plan__product"}


def adverse_events_by_product(injections: QuerySet[Injection], by: str = "product") -> list[tuple[str, bool, int]]:
    """(product, is_serious, events) for events whose index injection is among ``injections``; one query. ``by``:
    "product" (the index injection's) or "plan_product" (its plan's)."""
    return list(
        AdverseEvent.objects.filter(index_injection__in=injections.values("pk"))
        .values_list(EVENT_GROUPS[by], "is_serious")
        .annotate(n=Count("pk"))
        .order_by()
    )


def trajectory_flags(patient: Patient) -> list[dict[str, Any]]:
    """The patient's flags, oldest first, as points on the trajectory's time line; one query."""
    flags = Flag.objects.filter(patient=patient).select_related("follow_up__plan").order_by("raised_at")
    return [
        {
            "date": timezone.localdate(flag.raised_at).isoformat(),
            "knee": flag.follow_up.plan.knee,
            "label": flag.get_rule_display(),
            "status": flag.get_status_display(),
            "urgent": flag.urgent,
            "worsening": flag.is_worsening_signal,
        }
        for flag in flags
    ]

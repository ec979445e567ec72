"""One patient's scores over time, knee by knee, with the injections (and their protocols) and any safety flags
on the same time line. A handful of queries per patient, whatever their history.

Flags are safety's data, and safety sits above outcomes: safety hands in its selector at start-up
(``provide_flags``, called from safety/apps.py), so outcomes never names safety's models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import Submission, Timepoint
from outcomes.models.followup import OUTCOME_TIMEPOINTS
from registry.choices import Knee, Product
from registry.models import Injection, Patient, TreatmentPlan
from registry.templatetags.registry_display import protocol_rows

TIMEPOINT_LABELS = dict(Timepoint.choices)


# (patient) -> [{date, knee, label, status, urgent, worsening}], oldest first.
FlagReader = Callable[[Patient], list[dict[str, Any]]]

_read_flags: FlagReader | None = None


def provide_flags(read_flags: FlagReader | None) -> None:
    """Plug in the app that raises safety flags (safety, at start-up); None unplugs it."""
    global _read_flags
    _read_flags = read_flags


def _flags(patient: Patient) -> list[dict[str, Any]]:
    return _read_flags(patient) if _read_flags is not None else []


def _short_product(code: str) -> str:
    return str(dict(Product.choices).get(code, code)).split(" (")[0]  # "BMAC", not the full explanation


def patient_trajectory(patient: Patient) -> dict[str, Any]:
    """{"knees": [{code, label, points, injections, flags}], "measures": [...]} for the patient's page."""
    plans = list(
        TreatmentPlan.objects.filter(patient=patient)
        .order_by("created_at")
        .prefetch_related(Prefetch("injections", queryset=Injection.objects.order_by("number_in_plan")))
    )
    submissions = list(
        Submission.objects.filter(follow_up__patient=patient, timepoint__in=OUTCOME_TIMEPOINTS)
        .select_related("follow_up__plan")
        .order_by("submitted_at")
    )
    flags = _flags(patient)
    products = dict(Product.choices)
    knees = []
    for code, label in Knee.choices:
        knee_plans = [p for p in plans if p.knee == code]
        if not knee_plans:
            continue
        injections = [
            {
                "date": i.injected_on.isoformat(),
                "label": f"{products.get(i.product, i.product)}"
                + (f" {i.number_in_plan} of {p.planned_injections}" if p.planned_injections > 1 else ""),
                "status": i.get_status_display(),
                "kl_grade": i.kl_grade,
                "protocol": protocol_rows(i),
            }
            for p in knee_plans
            for i in p.injections.all()
        ]
        points = [
            {
                "date": timezone.localdate(s.submitted_at).isoformat(),
                "timepoint": TIMEPOINT_LABELS.get(s.timepoint, s.timepoint),
                "plan": _short_product(s.follow_up.plan.product),
                "scores": {m.column: getattr(s, m.column) for m in OUTCOME_MEASURES},
                "values": [getattr(s, m.column) for m in OUTCOME_MEASURES],
            }
            for s in submissions
            if s.follow_up.plan.knee == code
        ]
        knees.append(
            {
                "code": code,
                "label": f"{label} knee",
                "points": points,
                "injections": injections,
                "flags": [f for f in flags if f["knee"] == code],
                # Counts of each kind (safety's trajectory_flags marks worsening signals: efficacy, not harm).
                "safety_flags": sum(1 for f in flags if f["knee"] == code and not f.get("worsening")),
                "worsening_signals": sum(1 for f in flags if f["knee"] == code and f.get("worsening")),
            }
        )
    return {
        "measures": [{"key": m.column, "label": m.label, "scale": m.reading} for m in OUTCOME_MEASURES],
        "knees": knees,
        "flags_available": _read_flags is not None,
    }

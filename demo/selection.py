"""Realistic selection and risk factors (registry.selection) for the demo and the synthetic registry.

Drawn from a random generator of their own, so adding them left every other demo value as it was. Proportions are
plausible for a knee-OA injection clinic (type 2 diabetes about 1 in 8, anticoagulants about 1 in 15), not data.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

# The columns selection_factors() fills besides the BMI (which the callers draw, as they did before).
COLUMNS = (
    "bmi_status",
    "bmi_not_measured_reason",
    "kl_radiograph_on",
    "kl_radiograph_view",
    "kl_compartments",
    "alignment_method",
    "symptom_duration_months",
    "effusion",
    "effusion_aspirated_ml",
    "diabetes",
    "antithrombotic",
    "immunosuppression",
    "immunosuppression_reason",
    "malignancy",
    "smoking",
    "widespread_pain",
)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def selection_factors(
    rng: random.Random, *, injected_on: dt.date, today: dt.date, alignment: str, bmi: Decimal | None
) -> dict:
    """The new fields of an injection (bmi_status, BMI cleared when not measured, radiograph, risk factors). A
    planned injection's radiograph is one already taken (before ``today``)."""
    filmed_by = min(injected_on, today)
    measured = rng.random() < 0.93
    effusion = _pick(rng, {"none": 0.62, "present": 0.28, "": 0.10})
    immunosuppression = _pick(rng, {"no": 0.88, "yes": 0.04, "unknown": 0.06, "": 0.02})
    view = _pick(rng, {"standing_ap": 0.45, "rosenberg": 0.40, "": 0.15})
    compartments = ["lateral" if alignment == "valgus" else "medial"]
    if rng.random() < 0.3:
        compartments.append("patellofemoral")
    return {
        "bmi_status": "measured" if measured else "not_measured",
        "bmi": bmi if measured else None,
        "bmi_not_measured_reason": "" if measured else rng.choice(["", "No scales in clinic", "Declined weighing"]),
        # Within 11 months of the injection: an older film would ask the clinician to confirm it.
        "kl_radiograph_on": filmed_by - dt.timedelta(days=rng.randint(3, 300)) if view else None,
        "kl_radiograph_view": view,
        "kl_compartments": compartments if view else [],
        "alignment_method": _pick(rng, {"long_leg": 0.35, "short_knee": 0.35, "clinical": 0.30}) if alignment else "",
        "symptom_duration_months": rng.randint(4, 180) if rng.random() < 0.9 else None,
        "effusion": effusion,
        "effusion_aspirated_ml": Decimal(rng.randint(4, 70)) if effusion == "present" and rng.random() < 0.5 else None,
        "diabetes": _pick(rng, {"no": 0.78, "type_2": 0.12, "type_1": 0.02, "unknown": 0.05, "": 0.03}),
        "antithrombotic": _pick(
            rng, {"none": 0.74, "antiplatelet": 0.14, "anticoagulant": 0.06, "both": 0.01, "unknown": 0.05}
        ),
        "immunosuppression": immunosuppression,
        "immunosuppression_reason": rng.choice(["biologic", "dmard", "systemic_steroid"])
        if immunosuppression == "yes"
        else "",
        "malignancy": _pick(rng, {"none": 0.84, "past": 0.09, "active": 0.01, "unknown": 0.06}),
        "smoking": _pick(rng, {"never": 0.48, "former": 0.31, "current": 0.12, "unknown": 0.09}),
        "widespread_pain": _pick(rng, {"no": 0.78, "yes": 0.10, "unknown": 0.08, "": 0.04}),
    }

"""Selection factors and confounders: what the patient and the knee were like when a treatment was chosen.

One table of fields (``FIELDS``) and one validation (``validate``), used by the model mixin
(registry.models.selection.SelectionFactors), the service, the web form, the API, the admin and the exports, so a
consultation record (issue 16) can carry the same factors and adjusted estimates can read them by one name.

Blank means "not recorded" (injections recorded before these fields existed); "unknown" is an answer: the clinic
asked and nobody knew. BMI is the exception: a new record gives it or says it was not measured.

Numbers have hard limits (refused) and, where a value is possible but unusual, soft limits that are saved only
once confirmed, like the protocol's (registry.plausibility): the warning codes are ``selection.<field>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils import dateformat

from registry.plausibility import Warning, as_decimal, number, same


class BmiStatus(models.TextChoices):
    MEASURED = "measured", "Measured"
    NOT_MEASURED = "not_measured", "Not measured"
    # Only ever set by migration 0008 on injections recorded while BMI was optional; never chosen for a new one.
    NOT_RECORDED = "not_recorded", "Not recorded (before BMI was required)"


class Diabetes(models.TextChoices):
    NO = "no", "No diabetes"
    TYPE_1 = "type_1", "Type 1"
    TYPE_2 = "type_2", "Type 2"
    UNKNOWN = "unknown", "Unknown"


class Antithrombotic(models.TextChoices):
    NONE = "none", "None"
    ANTIPLATELET = "antiplatelet", "Antiplatelet (e.g. aspirin, clopidogrel)"
    ANTICOAGULANT = "anticoagulant", "Anticoagulant (e.g. warfarin, apixaban)"
    BOTH = "both", "Both"
    UNKNOWN = "unknown", "Unknown"


class YesNoUnknown(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class ImmunosuppressionReason(models.TextChoices):
    BIOLOGIC = "biologic", "Biologic (e.g. anti-TNF)"
    SYSTEMIC_STEROID = "systemic_steroid", "Oral or systemic corticosteroid"
    DMARD = "dmard", "Conventional DMARD (e.g. methotrexate)"
    TRANSPLANT = "transplant", "Transplant anti-rejection drugs"
    CHEMOTHERAPY = "chemotherapy", "Chemotherapy"
    DISEASE = "disease", "Immunodeficiency (e.g. HIV)"
    OTHER = "other", "Other"


class Malignancy(models.TextChoices):
    NONE = "none", "None"
    ACTIVE = "active", "Active cancer"
    PAST = "past", "Past cancer (treated)"
    UNKNOWN = "unknown", "Unknown"


class Smoking(models.TextChoices):
    NEVER = "never", "Never smoked"
    FORMER = "former", "Former smoker"
    CURRENT = "current", "Current smoker"
    UNKNOWN = "unknown", "Unknown"


class Effusion(models.TextChoices):
    NONE = "none", "No effusion"
    PRESENT = "present", "Effusion present"


class RadiographView(models.TextChoices):
    STANDING_AP = "standing_ap", "Standing AP"
    ROSENBERG = "rosenberg", "Rosenberg (PA flexed, weight-bearing)"
    LATERAL = "lateral", "Lateral"
    SKYLINE = "skyline", "Skyline (Merchant)"


class Compartment(models.TextChoices):
    MEDIAL = "medial", "Medial tibiofemoral"
    LATERAL = "lateral", "Lateral tibiofemoral"
    PATELLOFEMORAL = "patellofemoral", "Patellofemoral"


class AlignmentMethod(models.TextChoices):
    LONG_LEG = "long_leg", "Long-leg standing radiograph"
    SHORT_KNEE = "short_knee", "Short knee radiograph"
    CLINICAL = "clinical", "Clinical (goniometer or visual)"


# Every selection field, in the order pages show it. Existing fields (kl_grade, bmi, alignment...) are here too:
# a consultation (issue 16) needs them all, and the exports and the API read this tuple.
FIELDS: tuple[str, ...] = (
    "kl_grade",
    "kl_radiograph_on",
    "kl_radiograph_view",
    "kl_compartments",
    "bmi_status",
    "bmi",
    "bmi_not_measured_reason",
    "alignment",
    "alignment_degrees",
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
# The new ones (issue 15), for the fieldsets and exports that add them beside the existing ones.
NEW_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("kl_grade", "bmi", "alignment", "alignment_degrees"))
# Free text may name people: kept out of the pseudonymised exports.
FREE_TEXT = ("bmi_not_measured_reason",)

# Choice fields held to their choices by a CheckConstraint ("" = not recorded, except BMI status).
CHOICES: dict[str, type[models.TextChoices]] = {
    "kl_radiograph_view": RadiographView,
    "bmi_status": BmiStatus,
    "alignment_method": AlignmentMethod,
    "effusion": Effusion,
    "diabetes": Diabetes,
    "antithrombotic": Antithrombotic,
    "immunosuppression": YesNoUnknown,
    "immunosuppression_reason": ImmunosuppressionReason,
    "malignancy": Malignancy,
    "smoking": Smoking,
    "widespread_pain": YesNoUnknown,
}


@dataclass(frozen=True)
class Limit:
    field: str
    unit: str
    hard: tuple[int, int]  # refused outside (inclusive): the model field's validators
    soft: tuple[int, int] | None  # asks for confirmation outside; None: hard limits only
    reason: str

    @property
    def code(self) -> str:
        return f"selection.{self.field}"

    def describe(self) -> str:
        usual = f"Usually up to {number(self.soft[1])} {self.unit}; more is asked to confirm. " if self.soft else ""
        return f"{usual}Refused outside {number(self.hard[0])}–{number(self.hard[1])} {self.unit}."


LIMITS: dict[str, Limit] = {
    limit.field: limit
    for limit in (
        Limit("bmi", "kg/m²", (12, 80), None,
              "Outside 12–80 kg/m² an adult BMI is almost always a slip (pounds for kg, cm for m)."),
        Limit("symptom_duration_months", "months", (0, 960), None,
              "Months since knee symptoms began: 960 months is 80 years; it is also checked against the age."),
        Limit("effusion_aspirated_ml", "mL", (0, 200), (0, 120),
              "A knee effusion aspirated before injection is usually under about 50 mL, a large one 100–120 mL; "
              "the synovial cavity rarely holds more than about 200 mL."),
    )
}  # fmt: skip

# A KL grade read from an older radiograph may understate the knee on the day (OA progresses over months).
RADIOGRAPH_USUAL_MONTHS = 12


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` months earlier (the month's last day when it has fewer days)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: every month has a 28th


def _day(day: dt.date) -> str:
    return dateformat.format(day, "j M Y")


def _changed(values: dict, stored: dict | None, *fields: str) -> bool:
    """Whether a rule's fields differ from the record as stored (a new record has none stored): a correction is
    judged only by the rules it touches, so records made before a rule existed still open and save."""
    return stored is None or any(not same(values.get(f), stored.get(f)) for f in fields)


def validate(
    values: dict,
    *,
    day: dt.date | None,
    age: int | None = None,
    stored: dict | None = None,
    day_of: str = "injection",
):
    """(errors by field, warnings to confirm) for the selection ``values`` (field -> value, as on the model).
    ``day``: the injection (or consultation) date the radiograph must not follow, ``day_of`` what it is the day of
    (named in the messages); ``age``: years on that day; ``stored``: the record as the database holds it (None for
    a new one)."""
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    status, bmi = values.get("bmi_status"), values.get("bmi")
    if _changed(values, stored, "bmi_status", "bmi"):
        if status == BmiStatus.MEASURED and bmi is None:
            refuse("bmi", "Give the BMI (kg/m²), or choose “Not measured”.")
        elif status != BmiStatus.MEASURED and bmi is not None:
            refuse("bmi_status", "A BMI is given: choose “Measured”, or clear the BMI.")
        if status == BmiStatus.NOT_RECORDED and (stored or {}).get("bmi_status") != BmiStatus.NOT_RECORDED:
            refuse("bmi_status", "Only for injections recorded before BMI was required: choose “Measured” or “Not "
                   "measured”.")  # fmt: skip
    if values.get("bmi_not_measured_reason") and status != BmiStatus.NOT_MEASURED:
        refuse("bmi_not_measured_reason", "Only when BMI was not measured.")

    # Optional like the other new factors (blank: not recorded), but never a method without what it measured.
    if values.get("alignment_method") and not values.get("alignment"):
        refuse("alignment_method", "Give the alignment it measured, or clear the method.")

    immunosuppressed, why = values.get("immunosuppression"), values.get("immunosuppression_reason")
    if immunosuppressed == YesNoUnknown.YES and not why:
        refuse("immunosuppression_reason", "Say why the patient is immunosuppressed.")
    elif why and immunosuppressed != YesNoUnknown.YES:
        refuse("immunosuppression_reason", "Only when the patient is immunosuppressed.")

    aspirated = values.get("effusion_aspirated_ml")
    if aspirated is not None and values.get("effusion") != Effusion.PRESENT:
        refuse("effusion_aspirated_ml", "Only when an effusion is present (it is the volume aspirated from it).")

    months = values.get("symptom_duration_months")
    if months is not None and age is not None and months > (age + 1) * 12:
        refuse("symptom_duration_months", f"Longer than the patient's life ({age} years): give months, not days.")

    compartments = values.get("kl_compartments")
    if not isinstance(compartments, list):
        refuse("kl_compartments", "Must be a list of compartments.")
    else:
        unknown = [c for c in compartments if c not in Compartment.values]
        if unknown:
            refuse("kl_compartments", f"Unknown compartment(s): {', '.join(map(str, unknown))}. Choose from: "
                   f"{', '.join(Compartment.values)}.")  # fmt: skip
        elif len(set(compartments)) != len(compartments):
            refuse("kl_compartments", "Each compartment once.")

    taken_on = values.get("kl_radiograph_on")
    if isinstance(taken_on, dt.date) and isinstance(day, dt.date) and taken_on > day:
        refuse("kl_radiograph_on", f"After the {day_of} date ({_day(day)}): the grade must come from a "
               "radiograph taken before.")  # fmt: skip
    return errors, _warnings(values, day=day, stored=stored, day_of=day_of) if not errors else []


def _warnings(values: dict, *, day: dt.date | None, stored: dict | None, day_of: str) -> list[Warning]:
    found = []
    for limit in LIMITS.values():
        value = as_decimal(values.get(limit.field))
        if limit.soft is None or value is None or not _changed(values, stored, limit.field):
            continue
        if not Decimal(limit.soft[0]) <= value <= Decimal(limit.soft[1]):
            found.append(
                Warning(
                    limit.code,
                    limit.field,
                    f"Unusual: {number(value)} {limit.unit} is above the usual {number(limit.soft[1])} {limit.unit}. "
                    f"{limit.reason} Check it; if it is right, confirm it.",
                )
            )
    taken_on = values.get("kl_radiograph_on")
    if (
        isinstance(taken_on, dt.date)
        and isinstance(day, dt.date)
        and taken_on < months_before(day, RADIOGRAPH_USUAL_MONTHS)
        and _changed(values, stored, "kl_radiograph_on")
    ):
        found.append(
            Warning(
                "selection.kl_radiograph_on",
                "kl_radiograph_on",
                f"The radiograph ({_day(taken_on)}) is more than {RADIOGRAPH_USUAL_MONTHS} months before the "
                f"{day_of}: the KL grade may understate the knee on the day. Check the date; if it is right, "
                "confirm it.",
            )
        )
    return found


__all__ = [
    "CHOICES",
    "FIELDS",
    "FREE_TEXT",
    "LIMITS",
    "NEW_FIELDS",
    "AlignmentMethod",
    "Antithrombotic",
    "BmiStatus",
    "Compartment",
    "Diabetes",
    "Effusion",
    "ImmunosuppressionReason",
    "Limit",
    "Malignancy",
    "RadiographView",
    "Smoking",
    "YesNoUnknown",
    "validate",
]

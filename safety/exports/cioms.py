"""The CIOMS I form (suspect adverse reaction report), box by box, from what the registry holds about an event.

Every box gets a value: what the registry records, or "unknown" (said as such, never left blank) where it does
not. The patient stays pseudonymised (registry/pseudonymise.py): registry number for initials, an age band, no
date of birth. Product-specific wording (what names the product, its dose, its batch) comes from the product's
protocol record (registry.protocols), with its labels.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from registry import plausibility
from registry.choices import PRODUCTS_WITH_HARVEST, Alignment, Pathology, PreviousTreatment, Product
from registry.models import Injection
from registry.models.component import short_product
from registry.models.patient import age_band
from registry.protocols import PROTOCOL_FORMS
from registry.templatetags.registry_display import display_value
from safety import selectors
from safety.choices import SERIOUSNESS_CRITERIA, Dechallenge, Rechallenge, YesNoUnknown
from safety.models import AdverseEvent

UNKNOWN = "unknown"
AUTOLOGOUS = (*PRODUCTS_WITH_HARVEST, Product.PRP)  # the patient's own cells or blood, prepared at the point of care

# Per product, the protocol keys that name it after its generic name (CIOMS 14), and the key of its batch.
_NAMED_BY: dict[str, tuple[tuple[str, ...], str]] = {
    Product.BMAC: (("harvest_site", "processing_system", "processing_method"), ""),
    Product.PRP: (("leukocytes", "preparation_system", "activation"), ""),
    Product.ADSC: (("preparation", "harvest_site", "processing"), ""),
    Product.HA: (("product_name", "molecular_weight"), ""),
    Product.CORTICOSTEROID: ((), ""),
    Product.EXOSOME: (("source_material", "manufacturer", "sizing_method"), "batch_lot"),
    Product.SALINE: (("purpose",), ""),
    Product.OTHER: (("description",), ""),
}
_GENERIC_NAME = {
    Product.BMAC: "Autologous bone marrow aspirate concentrate (BMAC)",
    Product.PRP: "Autologous platelet-rich plasma (PRP)",
    Product.ADSC: "Autologous adipose-derived cells (ADSC / SVF)",
    Product.HA: "Hyaluronic acid",
    Product.EXOSOME: "Extracellular vesicles",
    Product.SALINE: "Saline",
    Product.OTHER: "Other product",
}


def _date(day: dt.date | None) -> str:
    return f"{day.day} {day:%b %Y}" if day else UNKNOWN


def _shown(injection: Injection, key: str) -> str:
    field = PROTOCOL_FORMS[injection.product].base_fields.get(key)
    value = (injection.protocol or {}).get(key)
    return "" if value in (None, "") else display_value(field, value)


def _labelled(injection: Injection, key: str) -> str:
    value = _shown(injection, key)
    field = PROTOCOL_FORMS[injection.product].base_fields.get(key)
    return f"{str(field.label).lower()} {value}" if value and field else value


def suspect(injection: Injection) -> str:
    """CIOMS 14: the product's generic name, what identifies it, and its batch."""
    keys, batch_key = _NAMED_BY.get(injection.product, ((), ""))
    name = _shown(injection, "drug") if injection.product == Product.CORTICOSTEROID else ""
    if injection.product == Product.BMAC and (injection.protocol or {}).get("processing_method") == "unprocessed":
        name = "Autologous bone marrow aspirate, unprocessed (BMA)"  # not concentrated, so not BMAC (issue 15)
    name = name or _GENERIC_NAME.get(injection.product, Product(injection.product).label)
    details = [d for d in (_labelled(injection, k) for k in keys) if d]
    if injection.product in AUTOLOGOUS:
        batch = "batch not applicable: autologous, prepared at the point of care"
    elif batch_key and _shown(injection, batch_key):
        batch = f"batch {_shown(injection, batch_key)}"
    else:
        batch = "batch unknown (not recorded)"
    return f"{name} ({'; '.join(details)}); {batch}" if details else f"{name}; {batch}"


def _times(amount: Decimal, unit: str) -> str:
    return f"{plausibility.number(amount.quantize(Decimal(1)) if amount >= 10 else amount.normalize())} {unit}"


def dose(injection: Injection) -> str:
    """CIOMS 15: what was given, as the product's dose (cells, milligrams, particles), not only its volume."""
    protocol = injection.protocol or {}
    volume = Decimal(str(injection.volume_ml))
    volume_text = f"{plausibility.number(volume)} mL"
    product = injection.product
    if product == Product.BMAC:
        tnc = plausibility.as_decimal(protocol.get("tnc_per_ml"))
        cells = (
            f"TNC {plausibility.number(tnc)} ×10⁶/mL, about {_times(tnc * volume, '×10⁶ nucleated cells')}"
            if tnc is not None
            else "cell count unknown (not recorded)"
        )
        text = f"{volume_text} of concentrate: {cells}"
    elif product == Product.PRP:
        platelets = plausibility.as_decimal(protocol.get("platelet_count"))
        count = (
            f"platelets {plausibility.number(platelets)} ×10³/µL, about "
            f"{_times(platelets * volume / 1000, '×10⁹ platelets')}"
            if platelets is not None
            else "platelet count unknown (not recorded)"
        )
        text = f"{volume_text} of PRP: {count}"
    elif product in (Product.HA, Product.CORTICOSTEROID) and protocol.get("dose_mg") is not None:
        text = f"{plausibility.number(protocol['dose_mg'])} mg in {volume_text}"
    elif product == Product.EXOSOME and protocol.get("dose_particles") is not None:
        text = f"{plausibility.number(protocol['dose_particles'])} particles in {volume_text}"
    elif product == Product.ADSC:
        cells = protocol.get("cell_count")
        text = f"{plausibility.number(cells)} cells in {volume_text}" if cells else f"{volume_text}; cell dose unknown"
    elif product == Product.SALINE:
        text = volume_text
    else:
        text = f"{volume_text}; dose unknown"
    return f"{text}, once"


def _parts(injection: Injection) -> list:
    """What was injected: its components (registry, issue 15), each with a product, protocol and volume as an
    injection has; a record without components is its own product."""
    return injection.ordered_components or [injection]


def route(injection: Injection) -> str:
    parts = injection.ordered_components
    if len(parts) > 1:
        where = "; ".join(f"{short_product(c.product)} {c.get_route_display().lower()}" for c in parts)
    else:
        where = parts[0].get_route_display() if parts else "Intra-articular"
    return f"{where}, {injection.get_knee_display().lower()} knee, {injection.get_guidance_display().lower()}" + (
        "-guided" if injection.guidance != "landmark" else ""
    )


def concomitant(injections: list[Injection]) -> str:
    """CIOMS 22: what else the registry knows was given with the procedure; other medicines are unknown."""
    given = []
    for i in injections:
        anaesthetic = _shown(i, "local_anaesthetic")
        if anaesthetic:
            given.append(f"{anaesthetic}, mixed into the injection on {_date(i.injected_on)}")
        anaesthesia = _shown(i, "anaesthesia")
        if anaesthesia:
            given.append(f"{anaesthesia} anaesthesia for the harvest on {_date(i.injected_on)}")
    return "; ".join([*given, "Other medicines: unknown (not recorded in the registry)"])


def history(index: Injection) -> str:
    """CIOMS 23: the knee and patient on the day of the index injection."""
    parts = [f"Kellgren-Lawrence grade {index.kl_grade}"]
    parts.append(f"BMI {index.bmi}" if index.bmi is not None else "BMI unknown")
    if index.alignment:
        degrees = f" {index.alignment_degrees.normalize()}°" if index.alignment_degrees else ""
        parts.append(f"alignment {Alignment(index.alignment).label.lower()}{degrees}")
    else:
        parts.append("alignment unknown")
    if index.activity_level is not None:
        parts.append(f"Tegner activity level {index.activity_level}")
    previous = [PreviousTreatment(t).label for t in index.previous_treatments or [] if t in PreviousTreatment.values]
    parts.append(f"previous treatments of this knee: {', '.join(previous) if previous else 'none recorded'}")
    pathology = [Pathology(p).label for p in index.pathology or [] if p in Pathology.values]
    parts.append(f"co-existing pathology: {', '.join(pathology) if pathology else 'none recorded'}")
    return "Knee osteoarthritis; " + "; ".join(parts)


def manufacturer(index: Injection, clinic) -> str:
    """CIOMS 24a: the maker of the product. Autologous products are made by the clinic at the point of care."""
    if index.product in AUTOLOGOUS:
        system = _shown(index, "processing_system") or _shown(index, "preparation_system")
        made_with = f" with {system}" if system else ""
        return f"{clinic.name}, {_country(clinic)}: prepared at the point of care{made_with}"
    maker = _shown(index, "manufacturer")
    return maker or UNKNOWN


def _country(clinic) -> str:
    return str(clinic.country.name) if clinic.country else UNKNOWN


def abatement(event: AdverseEvent) -> str:
    """CIOMS 20: for a staged plan, whether the next injection was withheld (the "drug stopped") and the reaction
    abated; otherwise each injection is a single administration, with nothing to stop."""
    if event.dechallenge == Dechallenge.YES:
        abated = YesNoUnknown(event.dechallenge_abated).label if event.dechallenge_abated else "Unknown"
        return f"{abated}: the next injection of the staged plan was withheld or delayed"
    if event.dechallenge == Dechallenge.NO:
        return "NA: the next injection of the staged plan was not withheld"
    return "NA: each injection is a single administration, nothing to stop"


def reintroduction(event: AdverseEvent, injections: list[Injection]) -> str:
    """CIOMS 21: whether the patient was given an injection again after the reaction began. What the clinician
    recorded for a staged plan (rechallenge) comes first; otherwise it is read from the injections given since."""
    if event.rechallenge == Rechallenge.YES:
        recurred = YesNoUnknown(event.rechallenge_recurred).label if event.rechallenge_recurred else "Unknown"
        return f"{recurred}: a later injection of the staged plan was given (recorded by the clinician)"
    if event.rechallenge == Rechallenge.NO:
        return "NA: no later injection of the staged plan was given (recorded by the clinician)"
    later = (
        Injection.objects.filter(patient_id=event.patient_id, status="given", injected_on__gt=event.onset_on)
        .order_by("injected_on")
        .first()
    )
    if later is None:
        return "NA: not given again after the reaction"
    recurred = (
        AdverseEvent.objects.filter(patient_id=event.patient_id, onset_on__gte=later.injected_on)
        .exclude(pk=event.pk)
        .order_by("onset_on")
        .first()
    )
    if recurred is not None:
        began = _date(recurred.onset_on)
        return f"Yes: adverse event #{recurred.pk} began on {began}, after the injection on {_date(later.injected_on)}"
    return f"Unknown: given again on {_date(later.injected_on)} ({later.get_product_display()}); no recurrence recorded"


def context(event: AdverseEvent) -> dict:
    injections = sorted(event.injections.all(), key=lambda i: (i.injected_on, i.pk))
    index = event.index_injection
    clinic = event.clinic
    studies = [
        i.governance.get("study_registration") for i in injections if (i.governance or {}).get("study_registration")
    ]
    assessor = event.assessed_by or event.recorded_by
    first, last = injections[0].injected_on, injections[-1].injected_on
    return {
        "event": event,
        "patient_code": event.patient.registry_number,
        "country": _country(clinic),
        "age_band": age_band(index.age_at_injection),
        "sex": event.patient.get_sex_display() if event.patient.sex != "unknown" else UNKNOWN,
        "criteria": [(label, getattr(event, field)) for field, label, _ in SERIOUSNESS_CRITERIA],
        "injections": [
            {
                "injection": i,
                "suspect": " + ".join(suspect(part) for part in _parts(i)),
                "dose": "; ".join(dose(part) for part in _parts(i)),
                "route": route(i),
                "date": _date(i.injected_on),
            }
            for i in injections
        ],
        "indication": f"Knee osteoarthritis, {index.get_knee_display().lower()} knee, "
        f"Kellgren-Lawrence grade {index.kl_grade}",
        "therapy_dates": _date(first) if first == last else f"{_date(first)} to {_date(last)}",
        "duration": "Single injection (one day)"
        if len(injections) == 1
        else f"{len(injections)} injections over {(last - first).days + 1} days",
        "reintroduction": reintroduction(event, injections),
        "abatement": abatement(event),
        "regulatory_reports": list(event.regulatory_reports.order_by("submitted_on", "id")),
        "concomitant": concomitant(injections),
        "history": history(index),
        "manufacturer": manufacturer(index, clinic),
        "studies": studies,
        "trail": selectors.event_trail(event),
        "report_date": timezone.localdate(),
        "first_received": timezone.localtime(event.recorded_at).date(),
        "is_follow_up": event.version > 1,
        "reporter": ", ".join(
            filter(
                None,
                [
                    assessor.get_full_name() or assessor.get_username(),
                    clinic.name,
                    _country(clinic),
                    clinic.contact_email,
                ],
            )
        ),
        "assessed_on": _date(timezone.localtime(event.assessed_at).date() if event.assessed_at else None),
    }

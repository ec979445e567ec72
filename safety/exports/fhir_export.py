"""FHIR R4 (4.0.1) AdverseEvent resources in a Bundle of type "collection" (standards.md 7.3).

Pinned to FHIR R4 4.0.1: its generated CodeSystems use capitalised causality codes ("Probably-Likely"); newer
terminology.hl7.org releases lowercase them. The patient is a logical reference by identifier (the registry
number), never a name. R4 severity has three levels, so the CTCAE grade travels in an extension.
"""

import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db.models import QuerySet

from registry.choices import Product
from safety.choices import CAUSALITY_FHIR_R4, SERIOUSNESS_CRITERIA, Causality, EventCategory, Severity
from safety.models import AdverseEvent

FHIR_VERSION = "4.0.1"
SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CAUSALITY_ASSESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"
CAUSALITY_METHOD_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-method"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-category"
MEDDRA_SYSTEM = "http://terminology.hl7.org/CodeSystem/mdr"
CTCAE_GRADE_EXTENSION = "https://knee-registry.example/fhir/StructureDefinition/ctcae-grade"
RELATEDNESS_EXTENSION = "https://knee-registry.example/fhir/StructureDefinition/procedure-relatedness"


def _system(name: str) -> str:
    # The registry's own configured URI, never the site address: a new host or port must not rename every record.
    return f"{settings.FHIR_SYSTEM_URI}/{name}"


def registry_number_system() -> str:
    return _system("registry-number")


def _severity_code(grade: int) -> tuple[str, str]:
    if grade <= Severity.MILD:
        return "mild", "Mild"
    if grade == Severity.MODERATE:
        return "moderate", "Moderate"
    return "severe", "Severe"


def _causality(event: AdverseEvent) -> list[dict]:
    """Two WHO-UMC assessments per suspect injection (issue 15): of the product, then of the procedure. R4's
    causality is 0..*, with `productRelatedness` (a string) saying which each is about."""
    joint = " (one assessment of product and procedure together, before 2026-12)" if event.assessed_jointly else ""
    return [
        {
            "assessment": {
                "coding": [
                    {
                        "system": CAUSALITY_ASSESS_SYSTEM,
                        "code": CAUSALITY_FHIR_R4[code],
                        "display": Causality(code).label,
                    }
                ]
            },
            "productRelatedness": f"{about}{joint}; related to {event.get_relatedness_display().lower()}",
            "method": {"coding": [{"system": CAUSALITY_METHOD_SYSTEM, "code": "WHO", "display": "WHO-UMC"}]},
        }
        for about, code in (
            ("The product injected", event.causality_product),
            ("The procedure (needle, harvest, anaesthesia)", event.causality_procedure),
        )
    ]


def _products(injection) -> str:
    """ "BMAC + PRP" for a combined injection (registry components), the product's full name otherwise."""
    return injection.products_label if injection.is_combined else Product(injection.product).label


def adverse_event_resource(event: AdverseEvent) -> dict:
    serious_codes = [(code, label) for field, label, code in SERIOUSNESS_CRITERIA if getattr(event, field)]
    seriousness = (
        {"coding": [{"system": SERIOUSNESS_SYSTEM, "code": "Serious", "display": "Serious"}]}
        if event.is_serious
        else {"coding": [{"system": SERIOUSNESS_SYSTEM, "code": "Non-serious", "display": "Non-serious"}]}
    )
    if serious_codes:
        seriousness["text"] = "; ".join(label for _, label in serious_codes)
    severity, severity_display = _severity_code(event.severity)
    event_coding = []
    if event.meddra_code:
        coding = {"system": MEDDRA_SYSTEM, "code": event.meddra_code}
        if event.meddra_version:
            coding["version"] = event.meddra_version
        event_coding.append(coding)
    injections = sorted(event.injections.all(), key=lambda i: (i.injected_on, i.pk))
    resource = {
        "resourceType": "AdverseEvent",
        "id": str(event.pk),
        "identifier": {"system": _system("adverse-event"), "value": str(event.pk)},
        "actuality": "actual",
        "category": [
            {
                "coding": [{"system": CATEGORY_SYSTEM, "code": "procedure-mishap", "display": "Procedure Mishap"}],
                "text": "Adverse event after an intra-articular injection",
            }
        ],
        "event": {**({"coding": event_coding} if event_coding else {}), "text": EventCategory(event.category).label},
        "subject": {
            "type": "Patient",
            "identifier": {"system": registry_number_system(), "value": event.patient.registry_number},
        },
        "date": event.onset_on.isoformat(),
        "recordedDate": event.recorded_at.isoformat(),
        "seriousness": seriousness,
        "severity": {"coding": [{"system": SEVERITY_SYSTEM, "code": severity, "display": severity_display}]},
        "outcome": {
            "coding": [
                {
                    "system": OUTCOME_SYSTEM,
                    "code": event.outcome_codes.fhir_r4,
                    "display": event.get_outcome_display(),
                }
            ]
        },
        "extension": [
            {"url": CTCAE_GRADE_EXTENSION, "valueInteger": event.severity},
            {"url": RELATEDNESS_EXTENSION, "valueString": event.relatedness},
        ],
        "suspectEntity": [
            {
                "instance": {
                    "type": "Procedure",
                    "identifier": {"system": _system("injection"), "value": str(injection.pk)},
                    "display": f"{_products(injection)} injection, {injection.injected_on.isoformat()}",
                },
                "causality": _causality(event),
            }
            for injection in injections
        ],
    }
    return resource


def bundle_entries(events: QuerySet) -> Iterator[dict]:
    for event in events.select_related("patient").prefetch_related("injections__components").iterator(chunk_size=500):
        yield {
            "fullUrl": f"{_system('AdverseEvent')}/{event.pk}",
            "resource": adverse_event_resource(event),
        }


def bundle(events: QuerySet, *, timestamp: str) -> dict:
    entries = list(bundle_entries(events))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": timestamp,
        "entry": entries,
    }

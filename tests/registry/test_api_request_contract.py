"""Every write operation's request schema says what the server really requires: each field the schema marks
required is refused when left out (400 naming it), each field it leaves optional may be left out. A field whose
need depends on other values (a protocol's keys depend on the product) is optional in the schema and its
description says when it is needed. Bodies are JSON only. Operations come from the schema, so a new write
operation fails here until it has a known-good body below.
"""

import datetime as dt
import itertools

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from outcomes.instruments import current_version
from registry.choices import Role
from tests.factories import BMAC_PROTOCOL, KOOS_ITEMS, PatientFactory, make_injection, staff
from tests.safety.ae_support import record

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def _patient_body(clinic) -> dict:
    return {
        "clinic": clinic.pk,
        "full_name": "Ada Example",
        "email": "ada@example.org",
        "phone": "07700 900123",
        "year_of_birth": 1958,
        "sex": "female",
        "consent_on": "2026-01-05",
        "consent_version": "v1.0",
        "consent_registry": True,
        "consent_email_contact": True,
        "preferred_language": "cy",
        "consent_sms_contact": True,
    }


def _injection_body(patient, clinician) -> dict:
    return {
        "patient": patient.pk,
        "knee": "left",
        "injected_on": "2026-03-02",
        "status": "given",
        "product": "bmac",
        "kl_grade": 2,
        "guidance": "ultrasound",
        "volume_ml": 6,
        "rehabilitation": "home",
        "rehabilitation_notes": "Quadriceps programme",
        "bmi": 27.5,
        "alignment": "varus",
        "alignment_degrees": 3,
        "activity_level": 4,
        "kl_radiograph_on": "2026-01-20",
        "kl_radiograph_view": "rosenberg",
        "kl_compartments": ["medial", "patellofemoral"],
        "bmi_status": "measured",
        "bmi_not_measured_reason": "",
        "alignment_method": "long_leg",
        "symptom_duration_months": 30,
        "effusion": "present",
        "effusion_aspirated_ml": 15,
        "diabetes": "no",
        "antithrombotic": "antiplatelet",
        "immunosuppression": "yes",
        "immunosuppression_reason": "biologic",
        "malignancy": "past",
        "smoking": "former",
        "widespread_pain": "unknown",
        "previous_treatments": ["physiotherapy"],
        "pathology": ["meniscal_tear"],
        "pathology_notes": "Degenerative medial meniscus",
        "clinician": clinician.pk,
        "protocol": dict(BMAC_PROTOCOL),
        # The same principal product again, as a component (either shape alone is accepted too).
        "components": [
            {
                "product": "bmac",
                "route": "intra_articular",
                "site": "superolateral",
                "volume_ml": 6,
                "protocol": dict(BMAC_PROTOCOL),
            },
        ],
        "governance": {},
        "planned_injections": 1,
        "number_in_plan": 1,
        "repeat_of": None,  # a first course; a fallback course names the one that did not help
        "acknowledged_warnings": [],
    }


def _event_body(injection) -> dict:
    return {
        "patient": injection.patient_id,
        "injections": [injection.pk],
        "flag": None,
        "source": "clinician",
        "onset_on": "2026-03-05",
        "category": "effusion",
        "description": "Swollen knee, settled with rest.",
        "severity": 1,
        "serious_death": False,
        "serious_life_threatening": False,
        "serious_hospitalisation": False,
        "serious_disability": False,
        "serious_congenital_anomaly": False,
        "serious_other_medically_important": False,
        "causality_product": "possible",
        "causality_procedure": "possible",
        "relatedness": "injection",
        "expectedness": "expected",
        "action_taken": "conservative",
        "outcome": "recovered",
        "outcome_on": "2026-03-10",
        "meddra_code": "10014593",
        "meddra_version": "27.0",
        "dechallenge": "",  # staged plans only: empty for this single injection
        "dechallenge_abated": "",
        "rechallenge": "",
        "rechallenge_recurred": "",
        "aware_on": "2026-03-06",
        "acknowledged_warnings": [],
    }


def _clinics(ctx):
    return "/api/v1/clinics/", {
        "name": f"Clinic {next(_numbers)}",
        "time_zone": "Europe/London",
        "link_requires_year_of_birth": True,
        "contact_email": "desk@example.org",
        "phone": "0161 496 0000",
        "country": "GB",
        "default_language": "cy",
        "show_own_scores": False,
        "default_channels": "both",
        "daily_email_cap": 1000,
        "daily_text_cap": 300,
    }


def _patients(ctx):
    return "/api/v1/patients/", _patient_body(ctx["clinic"])


def _patient_correction(ctx):
    patient = PatientFactory(clinic=ctx["clinic"])
    body = {k: v for k, v in _patient_body(ctx["clinic"]).items() if k != "clinic"}
    return f"/api/v1/patients/{patient.pk}/", body


def _withdrawal(ctx):
    patient = PatientFactory(clinic=ctx["clinic"])
    return f"/api/v1/patients/{patient.pk}/withdraw-consent/", {"decision": "retain", "reason": "Moved away"}


def _injections(ctx):
    return "/api/v1/injections/", _injection_body(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])


def _injection_correction(ctx):
    injection = make_injection(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])
    body = _injection_body(injection.patient, ctx["clinician"])
    for fixed in ("patient", "planned_injections", "number_in_plan", "repeat_of"):
        del body[fixed]
    body.update(kl_grade=3, bmi=28.0, reason="Re-measured")
    return f"/api/v1/injections/{injection.pk}/", body


def _events(ctx):
    return "/api/v1/adverse-events/", _event_body(
        make_injection(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])
    )


def _event_correction(ctx):
    injection = make_injection(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])
    event = record(ctx["clinician"], injection)
    body = {k: v for k, v in _event_body(injection).items() if k not in ("patient", "flag")}
    body.update(severity=2, description="Swollen knee, aspirated.", reason="Reassessed", version=event.version)
    return f"/api/v1/adverse-events/{event.pk}/", body


def _report(ctx):
    event = record(ctx["clinician"], make_injection(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"]))
    return f"/api/v1/adverse-events/{event.pk}/reports/", {
        "route": "sponsor",
        "kind": "initial",
        "submitted_on": "2026-03-09",
        "reference": "SP-1",
        "notes": "Emailed to the sponsor's safety desk.",
    }


def _score(ctx):
    return "/api/v1/instruments/KOOS/score/", {
        "answers": dict.fromkeys(KOOS_ITEMS, 2),
        "version": current_version("KOOS"),
    }


def _consultation_body(patient, clinician) -> dict:
    selection = {
        k: v
        for k, v in _injection_body(patient, clinician).items()
        if k not in ("injected_on", "status", "product", "guidance", "volume_ml", "rehabilitation",
                     "rehabilitation_notes", "protocol", "components", "governance", "number_in_plan",
                     "planned_injections", "repeat_of")
    }  # fmt: skip
    return {
        **selection,
        "consulted_on": "2026-02-20",
        "acknowledged_warnings": [],
        "indications": ["pain_despite_exercise", "early_oa"],
        "reasons_against": [],
        "alternatives_discussed": ["exercise", "weight", "prp"],
        "reasoning": "Medial pain despite exercise; KL 2.",
        "decision": "proceed",
        "proposed_product": "bmac",
        "referred_to": "",
        "review_after_months": 6,
        "not_improved_rule": "mcid_or_responder",
        "fallback_offer": ["physiotherapy"],
    }


def _consultations(ctx):
    return "/api/v1/consultations/", _consultation_body(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])


def _consultation_correction(ctx):
    from tests.consultations.factories import make_consultation

    consultation = make_consultation(PatientFactory(clinic=ctx["clinic"]), ctx["clinician"])
    body = _consultation_body(consultation.patient, ctx["clinician"])
    del body["patient"]
    body.update(kl_grade=3, reason="Radiograph re-read")
    return f"/api/v1/consultations/{consultation.pk}/", body


def _review_body(plan, clinician) -> dict:
    return {
        "plan": plan.pk,
        "reviewed_on": "2026-09-18",
        "clinician": clinician.pk,
        "offered": ["physiotherapy"],
        "offered_product": "",
        "path_taken": "physiotherapy",
        "notes": "Pain unchanged at six months.",
    }


def _reviews(ctx):
    from tests.consultations.review_data import course

    # Injected 2 Mar 2026: past its review point (2 Sep) by the time these tests run.
    return "/api/v1/reviews/", _review_body(course(ctx["clinic"], ctx["clinician"]), ctx["clinician"])


def _review_correction(ctx):
    from consultations.review_services import record_review
    from tests.consultations.review_data import course

    plan = course(ctx["clinic"], ctx["clinician"])
    body = _review_body(plan, ctx["clinician"])
    del body["plan"]
    data = {**body, "reviewed_on": dt.date(2026, 9, 18), "clinician": ctx["clinician"]}
    review = record_review(user=ctx["clinician"], plan=plan, data=data)
    body.update(path_taken="declined", reason="The patient decided against it")
    return f"/api/v1/reviews/{review.pk}/", body


# (method, schema path) -> a function giving (address, a body the server accepts), fresh objects on every call.
KNOWN_GOOD = {
    ("post", "/api/v1/clinics/"): _clinics,
    ("post", "/api/v1/patients/"): _patients,
    ("patch", "/api/v1/patients/{id}/"): _patient_correction,
    ("post", "/api/v1/patients/{id}/withdraw-consent/"): _withdrawal,
    ("post", "/api/v1/injections/"): _injections,
    ("patch", "/api/v1/injections/{id}/"): _injection_correction,
    ("post", "/api/v1/adverse-events/"): _events,
    ("patch", "/api/v1/adverse-events/{id}/"): _event_correction,
    ("post", "/api/v1/adverse-events/{id}/reports/"): _report,
    ("post", "/api/v1/instruments/{code}/score/"): _score,
    ("post", "/api/v1/consultations/"): _consultations,
    ("patch", "/api/v1/consultations/{id}/"): _consultation_correction,
    ("post", "/api/v1/reviews/"): _reviews,
    ("patch", "/api/v1/reviews/{id}/"): _review_correction,
}
# Optional in the schema, needed only in some cases: the description must say which.
CONDITIONAL = {
    ("post", "/api/v1/patients/", "phone"): "Required when `consent_sms_contact` is true",
    ("patch", "/api/v1/patients/{id}/", "phone"): "Required when `consent_sms_contact` is true",
    ("post", "/api/v1/injections/", "protocol"): "keys depend on `product`",
    ("post", "/api/v1/injections/", "governance"): "required for exosome",
    ("post", "/api/v1/injections/", "alignment_degrees"): "varus or valgus",
    ("patch", "/api/v1/injections/{id}/", "alignment_degrees"): "varus or valgus",
    ("post", "/api/v1/injections/", "bmi"): "required when `bmi_status` is `measured`",
    ("post", "/api/v1/injections/", "immunosuppression_reason"): "Required when `immunosuppression` is `yes`",
    ("patch", "/api/v1/injections/{id}/", "immunosuppression_reason"): "Required when `immunosuppression` is `yes`",
    ("post", "/api/v1/adverse-events/", "outcome_on"): "required when it is resolved",
    ("patch", "/api/v1/adverse-events/{id}/", "outcome_on"): "required when it is resolved",
    ("post", "/api/v1/consultations/", "alignment_degrees"): "varus or valgus",
    ("post", "/api/v1/consultations/", "bmi"): "required when `bmi_status` is `measured`",
    ("post", "/api/v1/consultations/", "immunosuppression_reason"): "Required when `immunosuppression` is `yes`",
    ("patch", "/api/v1/consultations/{id}/", "immunosuppression_reason"): "Required when `immunosuppression` is `yes`",
    ("post", "/api/v1/consultations/", "proposed_product"): "Required when `decision` is `proceed`",
    ("post", "/api/v1/consultations/", "fallback_offer"): "required (at least one) when proceeding",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _writes(schema) -> list[tuple[str, str, dict]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
    ]


def _request_component(schema, operation) -> dict:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.split("/")[-1]]


def test_every_write_takes_json_only_and_has_a_known_good_body(schema):
    writes = _writes(schema)
    assert {(method, path) for method, path, _ in writes} == set(KNOWN_GOOD)
    for method, path, operation in writes:
        assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)


def test_corrections_require_their_reason_and_version(schema):
    def required(method, path):
        return set(_request_component(schema, schema["paths"][path][method]).get("required", []))

    assert required("patch", "/api/v1/injections/{id}/") == {"reason"}
    assert required("patch", "/api/v1/adverse-events/{id}/") == {"reason", "version"}
    assert required("patch", "/api/v1/patients/{id}/") == set()
    for path in ("/api/v1/injections/{id}/", "/api/v1/adverse-events/{id}/"):
        assert schema["paths"][path]["patch"]["requestBody"]["required"] is True


@pytest.mark.parametrize(("method", "path"), list(KNOWN_GOOD))
def test_required_means_required_and_optional_means_optional(method, path, schema, clinic, admin_user):
    clinician = staff(clinic, Role.CLINICIAN, username=f"dr_{next(_numbers)}")
    ctx = {"clinic": clinic, "clinician": clinician}
    client = APIClient()
    client.force_authenticate(admin_user if path == "/api/v1/clinics/" else clinician)
    operation = schema["paths"][path][method]
    component = _request_component(schema, operation)
    required = set(component.get("required", []))
    writable = {name for name, field in component["properties"].items() if not field.get("readOnly")}

    address, body = KNOWN_GOOD[(method, path)](ctx)
    assert set(body) == writable, "the known-good body sends every field the schema accepts"
    accepted = getattr(client, method)(address, body, format="json")
    assert accepted.status_code in (200, 201), accepted.json()

    wrong = []
    for name in sorted(writable):
        address, body = KNOWN_GOOD[(method, path)](ctx)
        del body[name]
        response = getattr(client, method)(address, body, format="json")
        refused_for_it = response.status_code == 400 and name in response.json()
        if name in required and not refused_for_it:
            wrong.append(f"{name}: required in the schema, but the server took the body without it")
        elif name not in required and refused_for_it:
            condition = CONDITIONAL.get((method, path, name))
            description = component["properties"][name].get("description", "")
            if condition is None or condition not in description:
                wrong.append(f"{name}: optional in the schema, but refused when left out: {response.json()[name]}")
    assert not wrong, "\n".join(wrong)


def test_a_form_encoded_body_is_refused_with_415(clinician, clinic):
    client = APIClient()
    client.force_authenticate(clinician)
    body = {k: v for k, v in _patient_body(clinic).items() if not isinstance(v, bool)}
    response = client.post("/api/v1/patients/", body, format="multipart")
    assert response.status_code == 415
    assert client.post("/api/v1/patients/", _patient_body(clinic), format="json").status_code == 201
    assert dt.date.fromisoformat(client.get("/api/v1/patients/").json()["results"][0]["consent_on"])

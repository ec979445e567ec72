"""/api/v1/consultations/: create, list, retrieve and correct, scoped like the registry's API; validation errors by
field; auditors read only; no N+1 on the list."""

import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consultations.models import Consultation
from tests.consultations.factories import make_consultation
from tests.factories import PatientFactory

LIST = reverse("consultations-api:consultation-list")


def detail(consultation) -> str:
    return reverse("consultations-api:consultation-detail", args=[consultation.pk])


def payload(patient, **overrides) -> dict:
    data = {
        "patient": patient.pk,
        "knee": "right",
        "consulted_on": "2026-02-20",
        "kl_grade": 4,
        "bmi_status": "not_measured",
        "reasons_against": ["kl_4", "mechanical"],
        "alternatives_discussed": ["exercise", "surgical_opinion"],
        "decision": "advise_against",
        "referred_to": "Surgical opinion",
    }
    data.update(overrides)
    return data


def test_create_advising_against(api_as, clinician, patient):
    response = api_as(clinician).post(LIST, payload(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    consultation = Consultation.objects.get()
    assert body["id"] == consultation.pk
    assert body["decision"] == "advise_against"
    assert body["clinician"] == clinician.pk
    assert body["age_at_consultation"] == 66
    assert body["injection"] is None
    assert body["reasons_against"] == ["kl_4", "mechanical"]
    assert consultation.history.get().history_user == clinician


def test_create_proceeding_with_a_fallback_plan(api_as, clinician, patient):
    data = payload(
        patient,
        kl_grade=2,
        reasons_against=[],
        decision="proceed",
        proposed_product="prp",
        referred_to="",
        review_after_months=12,
        not_improved_rule="mcid_koos_pain",
        fallback_offer=["repeat_injection"],
    )
    response = api_as(clinician).post(LIST, data, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["review_after_months"], response.json()["not_improved_rule"]) == (12, "mcid_koos_pain")


def test_validation_errors_by_field(api_as, clinician, patient):
    client = api_as(clinician)
    response = client.post(LIST, payload(patient, proposed_product="bmac", reasons_against=[]), format="json")
    assert response.status_code == 400
    assert response.json() == {
        "proposed_product": ["Only when the decision is to proceed with an injection."],
        "reasons_against": ["Advising against an injection needs at least one reason against."],
    }
    response = client.post(
        LIST, payload(patient, indications=["magic"], kl_grad=2, review_after_months=0), format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"indications", "kl_grad", "review_after_months"}
    assert body["kl_grad"] == ["Unknown field."]
    response = client.post(LIST, payload(patient, consulted_on="2999-01-01"), format="json")
    assert response.status_code == 400
    assert "consulted_on" in response.json()
    assert not Consultation.objects.exists()


def test_unusual_values_need_their_codes(api_as, clinician, patient):
    data = payload(patient, effusion="present", effusion_aspirated_ml=150)
    response = api_as(clinician).post(LIST, data, format="json")
    assert response.status_code == 400
    assert response.json()["acknowledged_warnings"] == ["selection.effusion_aspirated_ml"]
    data["acknowledged_warnings"] = ["selection.effusion_aspirated_ml"]
    assert api_as(clinician).post(LIST, data, format="json").status_code == 201


def test_list_and_retrieve_are_scoped(api_as, clinician, patient, outsider, other_clinic):
    mine = make_consultation(patient, clinician)
    theirs = make_consultation(PatientFactory(clinic=other_clinic), outsider)
    body = api_as(clinician).get(LIST).json()
    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [mine.pk]
    assert api_as(clinician).get(detail(mine)).json()["proposed_product"] == "bmac"
    assert api_as(clinician).get(detail(theirs)).status_code == 404
    assert api_as(outsider).post(LIST, payload(patient), format="json").status_code == 400  # not their patient
    assert Consultation.objects.count() == 2


def test_patch_corrects_with_a_reason(api_as, clinician, patient):
    consultation = make_consultation(patient, clinician)
    client = api_as(clinician)
    response = client.patch(detail(consultation), {"kl_grade": 3}, format="json")
    assert response.status_code == 400
    assert response.json() == {"reason": ["This field is required."]}
    response = client.patch(detail(consultation), {"kl_grade": 3, "reason": "Re-read"}, format="json")
    assert response.status_code == 200
    assert response.json()["kl_grade"] == 3
    assert consultation.history.order_by("-history_id").first().history_change_reason == "Re-read"
    response = client.patch(detail(consultation), {"decision": "undecided", "reason": "x"}, format="json")
    assert response.status_code == 400
    assert "proposed_product" in response.json()
    consultation.refresh_from_db()
    assert consultation.decision == "proceed"


def test_roles(api, api_as, clinician, lead, auditor, outsider, patient):
    consultation = make_consultation(patient, clinician)
    assert api.get(LIST).status_code == 401
    assert api.post(LIST, payload(patient), format="json").status_code == 401
    assert api_as(auditor).get(detail(consultation)).status_code == 200
    assert api_as(auditor).post(LIST, payload(patient), format="json").status_code == 403
    patch = {"kl_grade": 3, "reason": "Re-read"}
    assert api_as(auditor).patch(detail(consultation), patch, format="json").status_code == 403
    assert api_as(outsider).get(detail(consultation)).status_code == 404
    assert api_as(outsider).patch(detail(consultation), patch, format="json").status_code == 404
    assert api_as(lead).patch(detail(consultation), patch, format="json").status_code == 200
    assert api_as(clinician).delete(detail(consultation)).status_code == 405
    assert api_as(clinician).put(detail(consultation), patch, format="json").status_code == 405


def test_the_list_costs_the_same_for_3_or_20(api_as, clinician, patient, django_assert_max_num_queries):
    client = api_as(clinician)
    counts = []
    for total in (3, 20):
        while Consultation.objects.count() < total:
            make_consultation(patient, clinician)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST)
        assert response.json()["count"] == total
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(6):  # permission, count, page, the access log
        client.get(LIST)


def test_in_the_schema(db, tmp_path):
    path = tmp_path / "schema.yml"
    # As tests/registry/test_api_schema.py: valid, and no warning (e.g. an enum name collision).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    paths = schema["paths"]
    assert set(paths["/api/v1/consultations/"]) == {"get", "post"}
    assert set(paths["/api/v1/consultations/{id}/"]) == {"get", "patch"}  # no PUT, no DELETE
    components = schema["components"]["schemas"]
    assert "reason" in components["PatchedConsultationUpdateRequest"]["properties"]
    assert set(components["ConsultationDecisionEnum"]["enum"]) == {"proceed", "advise_against", "undecided"}
    assert "analgesia" in components["ConsultationPreviousTreatmentEnum"]["enum"]

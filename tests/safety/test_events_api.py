"""The adverse-event API: scoped lists with filters and no N+1, recording, correcting with reason and version
(409 on a stale version), no DELETE, auditors read only, outsiders see nothing."""

import datetime as dt

import pytest
from django.core.management import call_command

from safety.models import AdverseEvent
from tests.factories import PatientFactory, make_injection
from tests.safety.ae_support import PRP_PROTOCOL, record, record_serious

pytestmark = pytest.mark.django_db
URL = "/api/v1/adverse-events/"


def payload(injection, **overrides):
    data = {
        "patient": injection.patient_id,
        "injections": [injection.pk],
        "source": "clinician",
        "onset_on": "2026-03-05",
        "category": "effusion",
        "description": "Swollen knee, settled with rest.",
        "severity": 1,
        "causality_product": "possible",
        "causality_procedure": "possible",
        "relatedness": "injection",
        "expectedness": "expected",
        "action_taken": "conservative",
        "outcome": "recovered",
        "outcome_on": "2026-03-10",
    }
    data.update(overrides)
    return data


def test_record_through_the_api(api_as, clinician, injection):
    response = api_as(clinician).post(URL, payload(injection), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["is_serious"] is False
    assert body["status"] == "resolved"
    assert body["patient_registry_number"] == injection.patient.registry_number


def test_patient_and_source_may_be_left_to_their_documented_defaults(api_as, clinician, injection, other_clinic):
    data = payload(injection)
    del data["patient"], data["source"]
    response = api_as(clinician).post(URL, data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["patient"] == injection.patient_id  # the injections' patient
    assert response.json()["source"] == "clinician"
    # The default never mixes patients: injections of two patients are still refused.
    second = make_injection(PatientFactory(clinic=injection.patient.clinic), clinician)
    mixed = api_as(clinician).post(URL, {**data, "injections": [injection.pk, second.pk]}, format="json")
    assert mixed.status_code == 400
    assert "injections" in mixed.json()


def test_model_rules_reach_the_api_as_400(api_as, clinician, injection):
    response = api_as(clinician).post(URL, payload(injection, severity=5), format="json")
    assert response.status_code == 400
    assert {"serious_death", "outcome"} <= set(response.json())


def test_unknown_fields_are_refused(api_as, clinician, injection):
    response = api_as(clinician).post(URL, payload(injection, sevrity=2), format="json")
    assert response.status_code == 400
    assert "sevrity" in response.json()


def test_patch_needs_reason_and_version_and_409_on_a_stale_version(api_as, clinician, lead, injection):
    event = record(clinician, injection)
    url = f"{URL}{event.pk}/"
    client = api_as(clinician)
    assert set(client.patch(url, {"severity": 3}, format="json").json()) == {"reason", "version"}
    ok = client.patch(url, {"severity": 3, "reason": "Reassessed", "version": 1}, format="json")
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = api_as(lead).patch(url, {"severity": 1, "reason": "From an old screen", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert "Someone else changed" in stale.json()["detail"]
    event.refresh_from_db()
    assert event.severity == 3


def test_no_delete_and_no_put(api_as, clinician, injection):
    event = record(clinician, injection)
    client = api_as(clinician)
    assert client.delete(f"{URL}{event.pk}/").status_code == 405
    assert client.put(f"{URL}{event.pk}/", {}, format="json").status_code == 405
    assert AdverseEvent.objects.filter(pk=event.pk).exists()


def test_auditors_read_but_every_write_is_403(api_as, auditor, clinician, injection):
    event = record(clinician, injection)
    client = api_as(auditor)
    assert client.get(URL).json()["count"] == 1
    assert client.get(f"{URL}{event.pk}/").status_code == 200
    assert client.post(URL, payload(injection), format="json").status_code == 403
    patch = client.patch(f"{URL}{event.pk}/", {"severity": 3, "reason": "x", "version": 1}, format="json")
    assert patch.status_code == 403


def test_outsiders_see_nothing(api_as, outsider, clinician, injection):
    event = record(clinician, injection)
    client = api_as(outsider)
    assert client.get(URL).json()["count"] == 0
    assert client.get(f"{URL}{event.pk}/").status_code == 404
    assert (
        client.patch(f"{URL}{event.pk}/", {"severity": 3, "reason": "x", "version": 1}, format="json").status_code
        == 404
    )
    # Nor can they record against another clinic's patient or injection.
    assert client.post(URL, payload(injection), format="json").status_code == 400


def test_filters(api_as, clinician, patient, injection):
    prp = make_injection(patient, clinician, product="prp", protocol=PRP_PROTOCOL, injected_on=dt.date(2026, 4, 1))
    serious = record_serious(clinician, injection)
    mild = record(clinician, prp, onset_on=dt.date(2026, 4, 3), outcome_on=dt.date(2026, 4, 8))
    client = api_as(clinician)

    def ids(**params):
        return [row["id"] for row in client.get(URL, params).json()["results"]]

    assert ids() == [serious.pk, mild.pk]  # serious first
    assert ids(serious="true") == [serious.pk]
    assert ids(serious="false") == [mild.pk]
    assert ids(product="prp") == [mild.pk]
    assert ids(product="bmac") == [serious.pk]
    assert ids(onset_after="2026-04-01") == [mild.pk]
    assert ids(onset_before="2026-03-31") == [serious.pk]
    assert ids(status="open") == [serious.pk]
    assert ids(status="resolved") == [mild.pk]
    assert ids(causality="possible") == [serious.pk]
    assert ids(clinic=patient.clinic_id) == [serious.pk, mild.pk]
    assert client.get(URL, {"serious": "perhaps"}).status_code == 400


def test_list_queries_do_not_grow_with_rows(api_as, clinician, clinic, django_assert_max_num_queries):
    for _ in range(6):
        record(clinician, make_injection(PatientFactory(clinic=clinic), clinician))
    client = api_as(clinician)
    with django_assert_max_num_queries(8):
        response = client.get(URL)
    assert response.json()["count"] == 6


def test_schema_is_warning_free():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")

"""Every change of clinical data is in the history with who, when and why; every view or export of patient data
is in the access log; auditors (and leads, administrators) read and export the whole trail for their clinics."""

import csv
import io

import pytest
from django.urls import reverse
from simple_history.models import registered_models

from audit.middleware import ACCESS_RULES
from audit.models import AccessAction, AccessLog
from registry import services
from tests.factories import PatientFactory, make_injection
from tests.security.routes import all_routes

# Models holding clinical data (patients, treatment, answers, scores, flags, events) must keep history.
CLINICAL_MODELS = {
    "registry.Patient",
    "registry.TreatmentPlan",
    "registry.Injection",
    "outcomes.FollowUp",
    "outcomes.Submission",
    "safety.Flag",
    "safety.AdverseEvent",
    # A reminder comparison's allocation of a patient, and the comparison itself (started, stopped).
    "outcomes.ReminderAllocation",
    "outcomes.ReminderComparison",
}


def test_clinical_models_keep_history():
    with_history = {model._meta.label for model in registered_models.values()}
    assert with_history >= CLINICAL_MODELS, sorted(CLINICAL_MODELS - with_history)


def test_a_change_records_who_when_and_why(patient, clinician):
    services.patient_update(patient=patient, by=clinician, data={"sex": "other"}, reason="Corrected at visit")
    latest = patient.history.first()
    assert latest.history_user == clinician
    assert latest.history_change_reason == "Corrected at visit"
    assert latest.history_date is not None
    assert latest.diff_against(latest.prev_record).changed_fields == ["sex"]


@pytest.mark.parametrize("route", ["registry:patient-detail", "registry-api:patient-detail"])
def test_viewing_a_patient_is_logged(client, clinician, patient, route):
    client.force_login(clinician)
    url = (
        reverse(route, args=[patient.registry_number])
        if route.startswith("registry:")
        else reverse(route, args=[patient.pk])
    )
    assert client.get(url).status_code == 200
    log = AccessLog.objects.get()
    assert (log.user, log.action, log.registry_number, log.clinic_id) == (
        clinician,
        AccessAction.VIEW,
        patient.registry_number,
        patient.clinic_id,
    )
    assert log.route == route
    assert log.path == url.split("?")[0]


@pytest.mark.parametrize("route", ["safety:event-detail", "adverse-event-detail", "safety:event-cioms"])
def test_reading_an_adverse_event_is_logged(client, auditor, clinician, patient, injection, route):
    from tests.safety.ae_support import record_serious

    event = record_serious(clinician, injection)
    client.force_login(auditor)
    response = client.get(reverse(route, args=[event.pk]))
    assert response.status_code == 200
    log = AccessLog.objects.get(route=route)
    assert (log.user, log.registry_number, log.clinic_id, log.object_id) == (
        auditor,
        patient.registry_number,
        patient.clinic_id,
        str(event.pk),
    )
    assert log.action == (AccessAction.EXPORT if route.endswith("cioms") else AccessAction.VIEW)


def test_a_refused_view_is_not_logged_as_a_view(client, outsider, patient):
    client.force_login(outsider)
    assert client.get(reverse("registry:patient-detail", args=[patient.registry_number])).status_code == 404
    assert not AccessLog.objects.exists()


def test_searching_keeps_the_search_terms_out_of_the_log(client, clinician, patient):
    client.force_login(clinician)
    client.get(reverse("registry:patient-list"), {"q": "Smith"})
    log = AccessLog.objects.get()
    assert log.action == AccessAction.LIST
    assert "Smith" not in log.path


def test_the_rules_name_real_routes():
    names = {route.name for route in all_routes()}
    assert set(ACCESS_RULES) <= names, sorted(set(ACCESS_RULES) - names)


@pytest.fixture
def history(patient, clinician, other_clinic, outsider):
    injection = make_injection(patient, clinician)
    services.injection_update(injection=injection, by=clinician, data={"volume_ml": "5.0"}, reason="Typo in volume")
    elsewhere = PatientFactory(clinic=other_clinic, full_name="Olive Other")
    return injection, elsewhere


@pytest.mark.parametrize(
    ("persona", "status"), [("auditor", 200), ("lead", 200), ("admin_user", 200), ("clinician", 403), ("outsider", 403)]
)
def test_who_may_read_the_trail(client, request, persona, status, db):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("audit:trail")).status_code == status
    assert client.get(reverse("audit:export")).status_code == status


def test_the_page_shows_changes_with_reasons_for_the_auditors_clinic_only(client, auditor, history, patient):
    _injection, elsewhere = history
    client.force_login(auditor)
    response = client.get(reverse("audit:trail"))
    events = response.context["events"]
    numbers = {e.registry_number for e in events}
    assert patient.registry_number in numbers
    assert elsewhere.registry_number not in numbers
    correction = next(e for e in events if e.reason == "Typo in volume")
    assert correction.event == "changed"
    assert "volume_ml:" in correction.changes
    assert correction.user == "dr_north"


def test_the_csv_export_streams_everything_and_is_itself_logged(client, auditor, history, patient):
    _injection, _elsewhere = history
    client.force_login(auditor)
    client.get(reverse("registry:patient-detail", args=[patient.registry_number]))  # an auditor's view: logged
    response = client.get(reverse("audit:export"))
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["registry_number"] for r in rows if r["registry_number"]} == {patient.registry_number}
    kinds = {(r["record"], r["event"]) for r in rows}
    assert ("registry.Patient", "created") in kinds
    assert ("registry.Injection", "changed") in kinds
    assert ("registry.patient", "view") in kinds
    assert any(r["reason"] == "Typo in volume" and "volume_ml" in r["changes"] for r in rows)
    # Identifying values never appear in the trail, only that they changed.
    assert patient.full_name not in body
    assert patient.email not in body
    assert AccessLog.objects.filter(route="audit:export", user=auditor, action=AccessAction.EXPORT).exists()


def test_the_csv_neutralises_spreadsheet_formulas(client, auditor, patient, clinician):
    services.patient_update(patient=patient, by=clinician, data={"sex": "male"}, reason='=HYPERLINK("http://x")')
    client.force_login(auditor)
    body = b"".join(client.get(reverse("audit:export")).streaming_content).decode()
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body
    assert '"=HYPERLINK' not in body

"""Clinician pages for patients: list, search, enrol, patient page, edit details, withdraw consent."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.choices import Role
from registry.models import Patient
from tests.factories import EXOSOME_PROTOCOL, GOVERNANCE, PatientFactory, make_injection, staff


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def test_home_sends_signed_out_people_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == reverse("login")


def test_home_sends_signed_in_staff_to_the_attention_list(as_user, clinician):
    response = as_user(clinician).get("/")
    assert response.url == reverse("notifications:attention")


def test_login_page_has_labelled_fields(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    assert b'<label for="id_password">' in response.content


def test_patient_list_needs_sign_in(client, db):
    response = client.get(reverse("registry:patient-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_patient_list_shows_own_clinic_patients_with_injection_count(as_user, clinician, patient, other_clinic):
    make_injection(patient, clinician)
    elsewhere = PatientFactory(clinic=other_clinic)
    response = as_user(clinician).get(reverse("registry:patient-list"))
    assert response.status_code == 200
    rows = list(response.context["page"].object_list)
    assert rows == [patient]
    assert rows[0].injection_count == 1
    assert patient.registry_number in response.text
    assert "North Knee Clinic" in response.text
    assert elsewhere.registry_number not in response.text
    assert "Enrol patient" in response.text


def test_auditor_sees_no_enrol_button(as_user, auditor, patient):
    response = as_user(auditor).get(reverse("registry:patient-list"))
    assert patient.registry_number in response.text
    assert "Enrol patient" not in response.text


def test_consent_badges(as_user, clinician, clinic):
    PatientFactory(clinic=clinic, consent_withdrawn_at="2026-02-01T10:00Z", withdrawal_decision="retain")
    PatientFactory(clinic=clinic, consent_email_contact=False)
    response = as_user(clinician).get(reverse("registry:patient-list"))
    assert "Consent withdrawn" in response.text
    assert "Emails off" in response.text


@pytest.mark.parametrize("query", ["alice", "ALICE@", "registry"])
def test_search_by_name_email_or_registry_number(as_user, clinician, clinic, query):
    alice = PatientFactory(clinic=clinic, full_name="Alice Archer", email="alice@example.org")
    bob = PatientFactory(clinic=clinic, full_name="Bob Baker", email="bob@example.org")
    if query == "registry":
        query = alice.registry_number[3:7]
    response = as_user(clinician).get(reverse("registry:patient-list"), {"q": query})
    found = list(response.context["page"].object_list)
    assert alice in found
    assert bob not in found


def test_clinic_filter_shown_and_applied_for_staff_of_several_clinics(as_user, clinic, other_clinic):
    user = staff(clinic, Role.CLINICIAN)
    user.memberships.create(clinic=other_clinic, role=Role.AUDITOR)
    north, south = PatientFactory(clinic=clinic), PatientFactory(clinic=other_clinic)
    client = as_user(user)
    assert 'name="clinic"' in client.get(reverse("registry:patient-list")).text
    response = client.get(reverse("registry:patient-list"), {"clinic": other_clinic.pk})
    assert list(response.context["page"].object_list) == [south]
    assert north.registry_number not in response.text


def test_clinic_filter_hidden_with_one_clinic(as_user, clinician, patient):
    assert 'name="clinic"' not in as_user(clinician).get(reverse("registry:patient-list")).text


def test_patient_list_paginates_by_25(as_user, clinician, clinic):
    PatientFactory.create_batch(26, clinic=clinic)
    client = as_user(clinician)
    first = client.get(reverse("registry:patient-list"))
    assert len(first.context["page"].object_list) == 25
    assert "Next page" in first.text
    second = client.get(reverse("registry:patient-list"), {"page": 2})
    assert len(second.context["page"].object_list) == 1


def test_patient_list_queries_do_not_grow_with_patients(as_user, clinician, clinic, django_assert_max_num_queries):
    client = as_user(clinician)
    url = reverse("registry:patient-list")

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    make_injection(PatientFactory(clinic=clinic), clinician)
    with_one = queries_for_list()
    for p in PatientFactory.create_batch(19, clinic=clinic):
        make_injection(p, clinician)
    assert queries_for_list() == with_one
    # Session, user, clinics, write check, count, one query for the page's rows, session save.
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert len(response.context["page"].object_list) == 20
    assert {p.injection_count for p in response.context["page"].object_list} == {1}


def enrol_data(clinic, **overrides):
    data = {
        "clinic": clinic.pk,
        "full_name": "Carol Cooper",
        "email": "carol@example.org",
        "phone": "07700 900123",
        "year_of_birth": "1958",
        "sex": "female",
        "consent_on": "2026-02-10",
        "consent_version": "v1.0",
        "consent_registry": "on",
        "consent_email_contact": "on",
    }
    data.update(overrides)
    return data


def test_enrol_form_preselects_the_only_clinic(as_user, clinician, clinic, other_clinic):
    response = as_user(clinician).get(reverse("registry:patient-enrol"))
    assert response.status_code == 200
    choices = list(response.context["form"].fields["clinic"].queryset)
    assert choices == [clinic]  # not the clinic they do not work in
    assert response.context["form"]["clinic"].value() == clinic.pk


def test_enrol_creates_patient_and_redirects_to_their_page(as_user, clinician, clinic):
    response = as_user(clinician).post(reverse("registry:patient-enrol"), enrol_data(clinic), follow=True)
    patient = Patient.objects.get()
    assert response.redirect_chain[-1][0] == reverse("registry:patient-detail", args=[patient.registry_number])
    assert patient.clinic == clinic
    assert patient.consent_email_contact is True
    assert f"as {patient.registry_number}" in response.text  # success message
    assert patient.history.get().history_user == clinician


def test_enrol_errors_sit_next_to_fields_and_keep_typed_values(as_user, clinician, clinic):
    response = as_user(clinician).post(
        reverse("registry:patient-enrol"), enrol_data(clinic, year_of_birth="1850", consent_version="")
    )
    assert response.status_code == 200
    assert not Patient.objects.exists()
    assert "Year of birth must be between 1900" in response.text
    assert 'aria-describedby="id_year_of_birth_error"' in response.text
    assert 'id="id_year_of_birth_error"' in response.text
    assert 'value="Carol Cooper"' in response.text


def test_a_bad_phone_number_is_refused_next_to_the_field(as_user, clinician, clinic):
    response = as_user(clinician).post(reverse("registry:patient-enrol"), enrol_data(clinic, phone="07700 12"))
    assert response.status_code == 200
    assert not Patient.objects.exists()
    assert 'id="id_phone_error"' in response.text
    assert "is not a valid number in GB" in response.text
    assert 'value="07700 12"' in response.text  # what was typed stays, to correct


def test_the_phone_is_stored_as_e164_with_consent_to_texts(as_user, clinician, clinic):
    data = enrol_data(clinic, phone="07700 900123", consent_sms_contact="on")
    as_user(clinician).post(reverse("registry:patient-enrol"), data)
    patient = Patient.objects.get()
    assert (patient.phone, patient.consent_sms_contact, patient.may_text) == ("+447700900123", True, True)
    page = as_user(clinician).get(reverse("registry:patient-detail", args=[patient.registry_number])).text
    assert "Text message contact" in page


@pytest.mark.parametrize(
    ("channels", "email", "sms"), [("email", True, False), ("sms", False, True), ("both", True, True)]
)
def test_the_clinics_default_channels_tick_the_consent_boxes(as_user, clinician, clinic, channels, email, sms):
    clinic.default_channels = channels
    clinic.save()
    form = as_user(clinician).get(reverse("registry:patient-enrol")).context["form"]
    assert (form["consent_email_contact"].value(), form["consent_sms_contact"].value()) == (email, sms)


def test_enrol_rejects_a_clinic_the_user_cannot_write_in(as_user, clinician, other_clinic):
    response = as_user(clinician).post(reverse("registry:patient-enrol"), enrol_data(other_clinic))
    assert response.status_code == 200
    assert "clinic" in response.context["form"].errors
    assert not Patient.objects.exists()


def test_patient_page_shows_knees_plans_protocol_and_completeness(as_user, clinician, patient):
    make_injection(patient, clinician, planned_injections=2)
    make_injection(
        patient,
        clinician,
        knee="right",
        product="exosome",
        protocol=dict(EXOSOME_PROTOCOL),
        governance=dict(GOVERNANCE),
    )
    response = as_user(clinician).get(reverse("registry:patient-detail", args=[patient.registry_number]))
    assert response.status_code == 200
    text = response.text
    assert "Left knee" in text
    assert "Right knee" in text
    assert "Injection 1 of 2" in text
    assert "<dt>Harvest site</dt><dd>Posterior iliac crest</dd>" in text  # label and choice label, not codes
    assert "<dt>Processing method</dt><dd>Centrifugation</dd>" in text
    assert "Protocol completeness:" in text
    assert "Not recorded: Harvest technique (device, pulls)" in text
    assert "<dt>Study registration number</dt><dd>NCT01234567</dd>" in text
    assert "UK MHRA CTA" in text
    assert "Record injection" in text
    assert "Withdraw consent" in text


def test_auditor_sees_patient_page_without_write_links(as_user, auditor, injection):
    response = as_user(auditor).get(reverse("registry:patient-detail", args=[injection.patient.registry_number]))
    assert response.status_code == 200
    assert "Posterior iliac crest" in response.text
    assert "Record injection" not in response.text
    assert "Edit details" not in response.text


def test_edit_details_requires_a_reason_and_records_it(as_user, clinician, patient, clinic):
    client = as_user(clinician)
    url = reverse("registry:patient-edit", args=[patient.registry_number])
    page = client.get(url)
    assert page.status_code == 200
    assert f'value="{patient.full_name}"' in page.text
    data = enrol_data(clinic, full_name="Renamed Person")
    del data["clinic"]
    missing_reason = client.post(url, data)
    assert missing_reason.status_code == 200
    assert "reason" in missing_reason.context["form"].errors
    patient.refresh_from_db()
    assert patient.full_name != "Renamed Person"
    response = client.post(url, {**data, "reason": "Name changed on marriage"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.full_name == "Renamed Person"
    assert patient.history.first().history_change_reason == "Name changed on marriage"


def test_withdraw_consent_explains_and_records_the_decision(as_user, clinician, patient):
    client = as_user(clinician)
    url = reverse("registry:patient-withdraw", args=[patient.registry_number])
    page = client.get(url)
    assert "stops all contact" in page.text
    assert "Erase contact details" in page.text
    response = client.post(url, {"decision": "erase_contact", "reason": "Moving abroad"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.has_withdrawn
    assert patient.email == ""
    assert patient.withdrawal_reason == "Moving abroad"
    again = client.get(url)
    assert "Consent was withdrawn on" in again.text


def test_withdraw_needs_decision_and_reason(as_user, clinician, patient):
    response = as_user(clinician).post(reverse("registry:patient-withdraw", args=[patient.registry_number]), {})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"decision", "reason"}
    patient.refresh_from_db()
    assert not patient.has_withdrawn

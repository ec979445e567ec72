"""The Django admin sees what registry.scoping allows, is read-only for auditors, deletes nothing clinical, and
writes through the services with a reason."""

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from registry.choices import Role
from registry.memberships import membership_grant
from registry.models import Injection, Membership, Patient
from tests.factories import BMAC_PROTOCOL, PatientFactory, UserFactory, make_injection


@pytest.fixture
def admin_clinician(clinic):
    user = UserFactory(username="admin_north")
    membership_grant(user=user, clinic=clinic, role=Role.CLINICIAN)
    return user


@pytest.fixture
def admin_auditor(clinic):
    user = UserFactory(username="audit_north")
    membership_grant(user=user, clinic=clinic, role=Role.AUDITOR)
    return user


@pytest.fixture
def theirs(other_clinic):
    return PatientFactory(clinic=other_clinic, full_name="Southern Patient")


def patient_url(action, patient):
    return reverse(f"admin:registry_patient_{action}", args=[patient.pk])


def test_clinician_sees_only_their_clinics_patients(client, admin_clinician, patient, theirs):
    client.force_login(admin_clinician)
    response = client.get(reverse("admin:registry_patient_changelist"))
    assert response.status_code == 200
    assert patient.registry_number in response.text
    assert theirs.registry_number not in response.text
    assert "South Knee Clinic" not in response.text  # not even in the clinic filter


def test_other_clinics_patient_pages_are_closed(client, admin_clinician, theirs):
    client.force_login(admin_clinician)
    assert client.get(patient_url("change", theirs)).status_code in (302, 404)
    assert client.get(patient_url("history", theirs)).status_code in (403, 404)
    version = theirs.history.get().history_id
    url = reverse("admin:registry_patient_simple_history", args=[theirs.pk, version])
    assert client.get(url).status_code in (403, 404)


def test_other_clinics_injections_are_hidden(client, admin_clinician, clinician, outsider, theirs, injection):
    elsewhere = make_injection(theirs, outsider)
    client.force_login(admin_clinician)
    response = client.get(reverse("admin:registry_injection_changelist"))
    ids = {row.pk for row in response.context["cl"].result_list}
    assert ids == {injection.pk}
    assert client.get(reverse("admin:registry_injection_change", args=[elsewhere.pk])).status_code in (302, 404)


def test_nobody_deletes_patients_or_injections(client, admin_user, patient, injection):
    client.force_login(admin_user)
    assert client.get(patient_url("delete", patient)).status_code == 403
    assert client.post(reverse("admin:registry_injection_delete", args=[injection.pk])).status_code == 403
    changelist = client.get(reverse("admin:registry_patient_changelist"))
    assert "delete_selected" not in changelist.text
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_auditor_reads_but_cannot_change(client, admin_auditor, patient):
    client.force_login(admin_auditor)
    page = client.get(patient_url("change", patient))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    response = client.post(patient_url("change", patient), {"full_name": "Changed", "change_reason": "x"})
    assert response.status_code == 403
    assert client.get(reverse("admin:registry_patient_add")).status_code == 403
    patient.refresh_from_db()
    assert patient.full_name != "Changed"


def test_reverting_from_history_is_refused(client, admin_user, patient):
    client.force_login(admin_user)
    version = patient.history.get().history_id
    url = reverse("admin:registry_patient_simple_history", args=[patient.pk, version])
    assert client.post(url, {"full_name": "Old"}).status_code == 403


def patient_admin_data(patient, **overrides):
    data = {
        "full_name": patient.full_name,
        "email": patient.email,
        "phone": patient.phone,
        "year_of_birth": patient.year_of_birth,
        "sex": patient.sex,
        "consent_on": patient.consent_on.isoformat(),
        "consent_version": patient.consent_version,
        "consent_registry": "on",
        "consent_email_contact": "on",
        "change_reason": "Corrected spelling",
    }
    data.update(overrides)
    return data


def test_admin_change_goes_through_the_service_with_a_reason(client, admin_clinician, patient):
    client.force_login(admin_clinician)
    response = client.post(patient_url("change", patient), patient_admin_data(patient, full_name="Anne Smyth"))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.full_name == "Anne Smyth"
    latest = patient.history.first()
    assert latest.history_change_reason == "Corrected spelling"
    assert latest.history_user == admin_clinician


def test_admin_change_needs_a_reason(client, admin_clinician, patient):
    client.force_login(admin_clinician)
    response = client.post(patient_url("change", patient), patient_admin_data(patient, change_reason=""))
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors


def test_admin_enrols_through_the_service(client, admin_clinician, clinic):
    client.force_login(admin_clinician)
    data = {
        "clinic": clinic.pk,
        "full_name": "New Person",
        "year_of_birth": 1970,
        "sex": "male",
        "consent_on": "2026-01-10",
        "consent_version": "v1.0",
        "consent_registry": "on",
        "change_reason": "Enrolled at the desk",
    }
    response = client.post(reverse("admin:registry_patient_add"), data)
    assert response.status_code == 302
    created = Patient.objects.get(full_name="New Person")
    assert created.history.get().history_change_reason == "Enrolled"


def injection_admin_data(injection, **overrides):
    data = {
        "status": injection.status,
        "injected_on": injection.injected_on.isoformat(),
        "clinician": injection.clinician_id,
        "guidance": injection.guidance,
        "volume_ml": str(injection.volume_ml),
        "rehabilitation": injection.rehabilitation,
        "rehabilitation_notes": "",
        "kl_grade": injection.kl_grade,
        "bmi_status": injection.bmi_status,
        "bmi": str(injection.bmi),
        "kl_compartments": "[]",
        "alignment": injection.alignment,
        "alignment_degrees": str(injection.alignment_degrees),
        "activity_level": injection.activity_level,
        "previous_treatments": "[]",
        "pathology": "[]",
        "pathology_notes": "",
        "protocol": json.dumps(injection.protocol),
        "governance": "{}",
        "change_reason": "Cell count added",
    }
    data.update(overrides)
    return data


def test_injection_admin_validates_protocol_through_the_model(client, admin_clinician, injection):
    client.force_login(admin_clinician)
    url = reverse("admin:registry_injection_change", args=[injection.pk])
    bad = {**BMAC_PROTOCOL, "concentrate_volume_ml": 600}
    response = client.post(url, injection_admin_data(injection, protocol=json.dumps(bad)))
    assert response.status_code == 200
    assert "concentrate_volume_ml" in " ".join(response.context["adminform"].form.errors["protocol"])
    injection.refresh_from_db()
    assert injection.protocol["concentrate_volume_ml"] == 6.0


def test_injection_admin_change_is_audited(client, admin_clinician, injection):
    client.force_login(admin_clinician)
    url = reverse("admin:registry_injection_change", args=[injection.pk])
    protocol = {**injection.protocol, "mnc_per_ml": 3.2, "mnc_method": "flow_cytometry"}
    response = client.post(url, injection_admin_data(injection, protocol=json.dumps(protocol)))
    assert response.status_code == 302
    injection.refresh_from_db()
    assert injection.protocol["mnc_per_ml"] == 3.2
    assert injection.history.first().history_change_reason == "Cell count added"


def test_injections_are_not_added_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("admin:registry_injection_add")).status_code == 403
    assert not Injection.objects.exists()


def test_clinics_and_memberships_are_for_administrators_only(client, admin_clinician):
    client.force_login(admin_clinician)
    assert client.get(reverse("admin:registry_clinic_changelist")).status_code == 403
    assert client.get(reverse("admin:registry_membership_changelist")).status_code == 403
    index = client.get(reverse("admin:index"))
    assert "Memberships" not in index.text
    assert "Patients" in index.text


def test_administrators_set_a_clinics_country(client, admin_user, clinic):
    client.force_login(admin_user)
    url = reverse("admin:registry_clinic_change", args=[clinic.pk])
    assert 'name="country"' in client.get(url).text
    data = {
        "name": clinic.name,
        "time_zone": clinic.time_zone,
        "contact_email": "",
        "country": "IE",
        "default_channels": "both",
        "default_language": "en-gb",
    }
    assert client.post(url, data).status_code == 302
    clinic.refresh_from_db()
    assert clinic.country.name == "Ireland"
    assert clinic.default_consents == {"consent_email_contact": True, "consent_sms_contact": True}


def test_registry_administrator_grants_a_membership(client, clinic, db):
    administrator = UserFactory(is_staff=True)
    administrator.groups.add(Group.objects.get(name="Administrator"))
    newcomer = UserFactory(username="newcomer")
    client.force_login(administrator)
    response = client.post(
        reverse("admin:registry_membership_add"), {"user": newcomer.pk, "clinic": clinic.pk, "role": Role.AUDITOR}
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer).role == Role.AUDITOR
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    assert list(newcomer.groups.values_list("name", flat=True)) == ["Auditor"]

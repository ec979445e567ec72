import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry.api.mixins import RegistryPagination
from registry.choices import Role
from registry.models import Patient
from registry.services import patient_withdraw_consent
from tests.factories import PatientFactory, staff

User = get_user_model()
URL = "/api/v1/patients/"


def detail(patient) -> str:
    return f"{URL}{patient.id}/"


def withdraw_url(patient) -> str:
    return f"{URL}{patient.id}/withdraw-consent/"


def new_patient(clinic, **overrides) -> dict:
    return {
        "clinic": clinic.id if clinic else None,
        "full_name": "Ada Lovelace",
        "email": "ada@example.org",
        "phone": "+44 20 7946 0000",
        "year_of_birth": 1958,
        "sex": "female",
        "consent_on": "2026-02-01",
        "consent_version": "v2.1",
        **overrides,
    }


def test_enrol_returns_the_contract_fields(api_as, clinician, clinic):
    response = api_as(clinician).post(URL, new_patient(clinic))
    assert response.status_code == 201, response.json()
    body = response.json()
    patient = Patient.objects.get()
    assert set(body) == {
        "id",
        "registry_number",
        "clinic",
        "full_name",
        "email",
        "phone",
        "year_of_birth",
        "sex",
        "consent_on",
        "consent_version",
        "consent_registry",
        "consent_email_contact",
        "preferred_language",
        "consent_sms_contact",
        "consent_withdrawn_at",
        "withdrawal_decision",
        "email_opted_out_at",
        "sms_opted_out_at",
        "phone_invalid_at",
        "phone_invalid_reason",
        "email_invalid_at",
        "email_invalid_reason",
        "created_at",
    }
    assert body["id"] == patient.id
    assert body["phone"] == "+442079460000"  # stored as E.164, whatever the spacing typed
    assert body["consent_sms_contact"] is False  # nobody is texted without agreeing to it
    assert body["registry_number"] == patient.registry_number
    assert body["registry_number"].startswith("KR-")
    assert body["clinic"] == clinic.id
    assert body["year_of_birth"] == 1958
    assert body["consent_on"] == "2026-02-01"
    assert body["consent_registry"] is True
    assert body["consent_withdrawn_at"] is None
    assert body["withdrawal_decision"] is None
    # Enrolled through the service: the audit row carries its reason and author.
    record = patient.history.get()
    assert record.history_change_reason == "Enrolled"
    assert record.history_user == clinician


def test_enrol_into_a_clinic_the_user_cannot_write_in_reads_as_missing(api_as, clinician, other_clinic):
    response = api_as(clinician).post(URL, new_patient(other_clinic))
    assert response.status_code == 400
    assert list(response.json()) == ["clinic"]
    assert "does not exist" in response.json()["clinic"][0]
    assert not Patient.objects.exists()


def test_enrol_into_a_clinic_where_the_user_only_audits_is_refused(api_as, clinic, other_clinic):
    user = staff(other_clinic, Role.CLINICIAN)
    user.memberships.create(clinic=clinic, role=Role.AUDITOR)
    response = api_as(user).post(URL, new_patient(clinic))
    assert response.status_code == 400
    assert "clinic" in response.json()
    assert api_as(user).post(URL, new_patient(other_clinic)).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"year_of_birth": "nineteen fifty"}, "year_of_birth"),
        ({"year_of_birth": 10**30}, "year_of_birth"),
        ({"year_of_birth": 1850}, "year_of_birth"),
        ({"year_of_birth": 1960.5}, "year_of_birth"),
        ({"sex": "robot"}, "sex"),
        ({"email": "not-an-email"}, "email"),
        ({"consent_on": "yesterday"}, "consent_on"),
        ({"consent_registry": "perhaps"}, "consent_registry"),
        ({"full_name": "Ada\x00Lovelace"}, "full_name"),
        ({"consent_version": ""}, "consent_version"),
        ({"clinic": "North"}, "clinic"),
        ({"clinic": 10**30}, "clinic"),
        ({"clinic": 1.5}, "clinic"),
        ({"clinic": True}, "clinic"),
        ({"clinic": [1]}, "clinic"),
        ({"clinic": "²"}, "clinic"),
        ({"clinic": "9" * 5000}, "clinic"),
        ({"clinic": -1}, "clinic"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"nickname": "Ada"}, "nickname"),
        ({"registry_number": "KR-0000-0000"}, "registry_number"),
        ({"consent_withdrawn_at": "2026-01-01T00:00:00Z"}, "consent_withdrawn_at"),
    ],
)
def test_enrol_rejects_invalid_input_field_by_field(api_as, clinician, clinic, changes, field):
    response = api_as(clinician).post(URL, {**new_patient(clinic), **changes})
    assert response.status_code == 400
    assert field in response.json()
    assert not Patient.objects.exists()


def test_unknown_field_message(api_as, clinician, clinic):
    response = api_as(clinician).post(URL, new_patient(clinic, nickname="Ada"))
    assert response.json() == {"nickname": ["Unknown field."]}


@pytest.mark.parametrize(
    "body", ["[]", "null", '"patient"', "3", '{"clinic": 1e999}', '{"year_of_birth": 1e999}', '{"year_of_birth": NaN}']
)
def test_enrol_with_a_body_that_is_not_a_patient_is_a_400(api_as, clinician, clinic, body):
    response = api_as(clinician).post(URL, body, content_type="application/json")
    assert response.status_code == 400


def test_list_excludes_other_clinics_and_is_paginated(api_as, clinician, clinic, other_clinic):
    mine = PatientFactory.create_batch(3, clinic=clinic)
    PatientFactory.create_batch(2, clinic=other_clinic)
    body = api_as(clinician).get(URL, {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    all_ids = {p["id"] for p in api_as(clinician).get(URL).json()["results"]}
    assert all_ids == {p.id for p in mine}


def test_administrator_lists_every_clinic(api_as, admin_user, clinic, other_clinic):
    PatientFactory(clinic=clinic)
    PatientFactory(clinic=other_clinic)
    assert api_as(admin_user).get(URL).json()["count"] == 2


def test_outsider_gets_404_for_retrieve_patch_and_withdraw(api_as, outsider, patient):
    api = api_as(outsider)
    assert api.get(detail(patient)).status_code == 404
    assert api.patch(detail(patient), {"phone": "1"}).status_code == 404
    assert api.post(withdraw_url(patient), {"decision": "retain", "reason": "asked"}).status_code == 404
    patient.refresh_from_db()
    assert patient.phone == ""
    assert patient.consent_withdrawn_at is None


def test_auditor_reads_but_never_writes(api_as, auditor, patient, clinic):
    api = api_as(auditor)
    assert api.get(URL).json()["count"] == 1
    assert api.get(detail(patient)).status_code == 200
    assert api.post(URL, new_patient(clinic)).status_code == 403
    assert api.patch(detail(patient), {"phone": "1"}).status_code == 403
    assert api.post(withdraw_url(patient), {"decision": "retain", "reason": "asked"}).status_code == 403
    assert api.delete(detail(patient)).status_code == 403
    patient.refresh_from_db()
    assert patient.phone == ""
    assert not patient.has_withdrawn
    assert Patient.objects.count() == 1


def test_auditor_here_and_clinician_elsewhere_cannot_change_this_clinics_patient(api_as, patient, clinic, other_clinic):
    user = staff(other_clinic, Role.CLINICIAN)
    user.memberships.create(clinic=clinic, role=Role.AUDITOR)
    api = api_as(user)
    assert api.get(detail(patient)).status_code == 200
    assert api.patch(detail(patient), {"phone": "1"}).status_code == 403
    assert api.post(withdraw_url(patient), {"decision": "retain", "reason": "asked"}).status_code == 403


def test_unauthenticated_is_refused(api, patient):
    assert api.get(URL).status_code == 401
    assert api.get(detail(patient)).status_code == 401
    assert api.patch(detail(patient), {"phone": "1"}).status_code == 401


def test_patch_updates_through_the_service(api_as, clinician, patient):
    response = api_as(clinician).patch(detail(patient), {"phone": "+44 1632 960000", "consent_email_contact": False})
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "+441632960000"  # stored as E.164
    assert response.json()["consent_email_contact"] is False
    patient.refresh_from_db()
    assert patient.phone == "+441632960000"
    assert patient.history.first().history_change_reason == "Details updated"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"clinic": 1}, "clinic"),
        ({"registry_number": "KR-0000-0000"}, "registry_number"),
        ({"withdrawal_decision": "retain"}, "withdrawal_decision"),
        ({"year_of_birth": "old"}, "year_of_birth"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_patch_rejects_read_only_unknown_and_invalid_fields(api_as, clinician, patient, changes, field):
    before = patient.registry_number
    audit_rows = patient.history.count()
    response = api_as(clinician).patch(detail(patient), changes)
    assert response.status_code == 400
    assert field in response.json()
    patient.refresh_from_db()
    assert patient.registry_number == before
    assert patient.history.count() == audit_rows  # nothing was saved


def test_patients_are_never_deleted_or_replaced(api_as, clinician, patient):
    api = api_as(clinician)
    assert api.delete(detail(patient)).status_code == 405
    assert api.put(detail(patient), new_patient(patient.clinic)).status_code == 405
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_withdraw_consent_records_the_decision(api_as, clinician, patient):
    response = api_as(clinician).post(withdraw_url(patient), {"decision": "erase_contact", "reason": "Moving away"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["withdrawal_decision"] == "erase_contact"
    assert body["consent_withdrawn_at"] is not None
    assert body["email"] == ""
    patient.refresh_from_db()
    assert patient.has_withdrawn
    assert patient.withdrawal_reason == "Moving away"
    assert patient.full_name == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "forget_me", "reason": "x"}, "decision"),
        ({"decision": "retain"}, "reason"),
        ({"decision": "retain", "reason": ""}, "reason"),
        ({"decision": "retain", "reason": "   "}, "reason"),
        ({"decision": "retain", "reason": "x", "erase": True}, "erase"),
        ({"decision": "retain", "reason": "x" * 81}, "reason"),
    ],
)
def test_withdraw_consent_validates_its_input(api_as, clinician, patient, body, field):
    response = api_as(clinician).post(withdraw_url(patient), body)
    assert response.status_code == 400
    assert field in response.json()
    patient.refresh_from_db()
    assert not patient.has_withdrawn


def test_withdrawing_twice_is_a_400(api_as, clinician, patient):
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="asked")
    response = api_as(clinician).post(withdraw_url(patient), {"decision": "retain", "reason": "again"})
    assert response.status_code == 400
    assert "already withdrawn" in response.json()["non_field_errors"][0]


def _ids(api, **params) -> set[int]:
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return {p["id"] for p in response.json()["results"]}


def test_filters(api_as, admin_user, clinic, other_clinic):
    a = PatientFactory(clinic=clinic, sex="male", year_of_birth=1950, full_name="Grace Hopper", email="g@x.org")
    b = PatientFactory(clinic=clinic, sex="female", year_of_birth=1965, full_name="Alan Turing", email="a@x.org")
    c = PatientFactory(clinic=other_clinic, sex="female", year_of_birth=1980, full_name="Joan Clarke", email="j@y.org")
    c.consent_withdrawn_at = timezone.now()
    c.save()
    api = api_as(admin_user)
    assert _ids(api, clinic=clinic.id) == {a.id, b.id}
    assert _ids(api, registry_number=b.registry_number.lower()) == {b.id}
    assert _ids(api, sex="female") == {b.id, c.id}
    assert _ids(api, year_of_birth_min=1960) == {b.id, c.id}
    assert _ids(api, year_of_birth_min=1960, year_of_birth_max=1970) == {b.id}
    assert _ids(api, withdrawn="true") == {c.id}
    assert _ids(api, withdrawn="false") == {a.id, b.id}
    assert _ids(api, q="hopper") == {a.id}
    assert _ids(api, q="y.org") == {c.id}
    assert _ids(api, q=a.registry_number[3:7]) >= {a.id}
    assert api.get(URL, {"sex": "robot"}).status_code == 400
    assert api.get(URL, {"year_of_birth_min": "old"}).status_code == 400


def test_filter_by_another_clinic_finds_nothing(api_as, clinician, clinic, other_clinic):
    PatientFactory(clinic=other_clinic)
    assert _ids(api_as(clinician), clinic=other_clinic.id) == set()


def test_list_queries_do_not_grow_with_rows(api, clinician, clinic, django_assert_max_num_queries):
    PatientFactory(clinic=clinic)
    # A fresh user object per request, as authentication gives: nothing cached from an earlier request.
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with CaptureQueriesContext(connection) as one_row:
        assert api.get(URL).json()["count"] == 1
    PatientFactory.create_batch(19, clinic=clinic)
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with django_assert_max_num_queries(len(one_row)), CaptureQueriesContext(connection) as twenty_rows:
        assert api.get(URL).json()["count"] == 20
    assert len(twenty_rows) == len(one_row)


@pytest.mark.parametrize(
    "params", [{"q": "a\x00b"}, {"registry_number": "\x00"}, {"clinic": "1.5"}, {"withdrawn": "perhaps"}]
)
def test_malformed_filters_are_400s(api_as, clinician, patient, params):
    response = api_as(clinician).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_out_of_range_ids_are_400s_or_404s_not_500s(api_as, clinician, patient):
    api = api_as(clinician)
    response = api.get(URL, {"clinic": 10**30})
    assert response.status_code == 400
    assert "clinic" in response.json()
    assert api.get(f"{URL}{10**30}/").status_code == 404
    assert api.get(f"{URL}{2**63 - 1}/").status_code == 404
    assert api.patch(f"{URL}{10**30}/", {"phone": "1"}).status_code == 404
    assert api.get(f"{URL}not-an-id/").status_code == 404


def test_page_size_has_a_default_and_a_ceiling(api_as, clinician, clinic, monkeypatch):
    PatientFactory.create_batch(3, clinic=clinic)
    assert RegistryPagination.default_limit == 50
    monkeypatch.setattr(RegistryPagination, "max_limit", 2)
    body = api_as(clinician).get(URL, {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    # Past the ceiling is an error the client sees, not a smaller page than it asked for.
    too_many = api_as(clinician).get(URL, {"limit": 10**9})
    assert too_many.status_code == 400
    assert too_many.json() == {"limit": ["Ensure this value is less than or equal to 2."]}


def test_a_bad_phone_number_is_refused_with_a_clear_message(api_as, clinician, clinic):
    response = api_as(clinician).post(URL, new_patient(clinic, phone="0770 090"))
    assert response.status_code == 400
    assert "not a valid number" in " ".join(response.json()["phone"])
    assert not Patient.objects.exists()


def test_a_number_without_country_code_takes_the_clinics_country(api_as, clinician, clinic):
    clinic.country = "FR"
    clinic.save()
    response = api_as(clinician).post(URL, new_patient(clinic, phone="06 12 34 56 78", consent_sms_contact=True))
    assert response.status_code == 201, response.json()
    assert response.json()["phone"] == "+33612345678"
    assert Patient.objects.get().may_text


def test_texts_need_a_phone_number(api_as, clinician, clinic):
    response = api_as(clinician).post(URL, new_patient(clinic, phone="", consent_sms_contact=True))
    assert response.status_code == 400
    assert "mobile number" in " ".join(response.json()["phone"])

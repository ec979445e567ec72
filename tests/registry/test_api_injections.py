import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from registry.choices import Role
from registry.models import Injection
from registry.services import patient_withdraw_consent
from tests.factories import BMAC_PROTOCOL, EXOSOME_PROTOCOL, GOVERNANCE, PatientFactory, make_injection, staff

User = get_user_model()
URL = "/api/v1/injections/"

PRP_PROTOCOL = {"leukocytes": "poor", "spins": 2, "activation": "none", "blood_volume_ml": 30}
HA_PROTOCOL = {"product_name": "Example HA", "molecular_weight_kda": 6000, "cross_linked": "yes", "dose_mg": 48}
STEROID_PROTOCOL = {"drug": "triamcinolone_acetonide", "dose_mg": 40}


def detail(injection) -> str:
    return f"{URL}{injection.id}/"


def new_injection(patient, **overrides) -> dict:
    data = {
        "patient": patient.id,
        "knee": "left",
        "injected_on": "2026-03-02",
        "product": "bmac",
        "guidance": "ultrasound",
        "volume_ml": 6,
        "rehabilitation": "home",
        "kl_grade": 2,
        "bmi": 27.5,
        "alignment": "varus",
        "alignment_degrees": 3,
        "activity_level": 4,
        "previous_treatments": ["physiotherapy", "nsaid"],
        "pathology": ["meniscal_tear"],
        "protocol": dict(BMAC_PROTOCOL),
    }
    data.update(overrides)
    return data


def post(api, data):
    return api.post(URL, data)


# --- The contract ---------------------------------------------------------------------------------------------


def test_record_returns_the_contract_fields(api_as, clinician, patient):
    response = post(api_as(clinician), new_injection(patient))
    assert response.status_code == 201, response.json()
    body = response.json()
    injection = Injection.objects.get()
    assert set(body) == {
        "id",
        "patient",
        "knee",
        "injected_on",
        "status",
        "product",
        "kl_grade",
        "guidance",
        "volume_ml",
        "rehabilitation",
        "rehabilitation_notes",
        "bmi",
        "alignment",
        "alignment_degrees",
        # Selection and risk factors (issue 15)
        "kl_radiograph_on",
        "kl_radiograph_view",
        "kl_compartments",
        "bmi_status",
        "bmi_not_measured_reason",
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
        "activity_level",
        "previous_treatments",
        "pathology",
        "pathology_notes",
        "clinician",
        "protocol",
        "governance",
        "plan",
        "planned_injections",
        "number_in_plan",
        "repeat_of",
        "age_at_injection",
        "protocol_completeness",
        "components",
        "total_volume_ml",
        "derived",
        "created_at",
    }
    assert body["derived"]["total_tnc"]["value"] == 213  # 35.5 ×10⁶/mL × 6 mL
    assert body["id"] == injection.id
    assert body["patient"] == patient.id
    assert body["knee"] == "left"
    assert body["injected_on"] == "2026-03-02"
    assert body["status"] == "given"
    assert body["product"] == "bmac"
    assert body["volume_ml"] == 6
    assert body["bmi"] == 27.5
    assert body["previous_treatments"] == ["physiotherapy", "nsaid"]
    assert body["clinician"] == clinician.id  # defaults to the requesting user
    assert body["plan"] == injection.plan_id
    assert body["planned_injections"] == 1
    assert body["number_in_plan"] == 1
    assert body["repeat_of"] is None
    assert body["age_at_injection"] == 2026 - 1960
    assert body["protocol"]["harvest_site"] == "posterior_iliac_crest"
    assert body["protocol"]["aspirate_volume_ml"] == 60
    assert body["governance"] == {}
    completeness = body["protocol_completeness"]
    assert set(completeness) == {"percent", "missing"}
    assert 0 < completeness["percent"] < 100
    assert "Harvest anaesthesia" in completeness["missing"]
    # Recorded through the service: audited, with its author.
    assert injection.history.get().history_change_reason == "Injection recorded"
    assert injection.created_by == clinician


def test_clinician_may_be_another_member_of_the_patients_clinic(api_as, lead, clinician, patient):
    response = post(api_as(lead), new_injection(patient, clinician=clinician.id, status="planned"))
    assert response.status_code == 201, response.json()
    assert response.json()["clinician"] == clinician.id
    assert response.json()["status"] == "planned"
    assert Injection.objects.get().created_by == lead


def test_clinician_must_work_in_the_patients_clinic(api_as, clinician, auditor, outsider, patient):
    api = api_as(clinician)
    # An auditor of the clinic is visible but does not treat patients.
    response = post(api, new_injection(patient, clinician=auditor.id))
    assert response.status_code == 400
    assert response.json() == {"clinician": ["Must be a clinician or lead of the patient's clinic."]}
    # Another clinic's clinician reads as if they did not exist.
    response = post(api, new_injection(patient, clinician=outsider.id))
    assert response.status_code == 400
    assert "does not exist" in response.json()["clinician"][0]
    assert not Injection.objects.exists()


def test_administrator_must_name_a_treating_clinician(api_as, admin_user, clinician, patient):
    api = api_as(admin_user)
    response = post(api, new_injection(patient))
    assert response.status_code == 400
    assert response.json() == {"clinician": ["Must be a clinician or lead of the patient's clinic."]}
    response = post(api, new_injection(patient, clinician=clinician.id))
    assert response.status_code == 201, response.json()


# --- Protocol and governance rules, through the API ---------------------------------------------------------


def _without(record: dict, key: str) -> dict:
    return {k: v for k, v in record.items() if k != key}


@pytest.mark.parametrize(
    ("product", "protocol", "expected"),
    [
        ("bmac", _without(BMAC_PROTOCOL, "harvest_site"), {"harvest_site": ["This field is required."]}),
        (
            "bmac",
            {**BMAC_PROTOCOL, "concentrate_volume_ml": 80},
            {
                "concentrate_volume_ml": [
                    "Concentrate volume cannot exceed the aspirate volume of 60 mL: the concentrate is made from it."
                ]
            },
        ),
        ("bmac", {**BMAC_PROTOCOL, "spins": 0}, {"spins": ["Centrifugation needs at least one spin."]}),
        ("bmac", {**BMAC_PROTOCOL, "colour": "red"}, {"colour": ["Unknown field."]}),
        ("bmac", {**BMAC_PROTOCOL, "aspirate_volume_ml": "lots"}, {"aspirate_volume_ml": ["Enter a number."]}),
        (
            "prp",
            {},
            {
                "leukocytes": ["This field is required."],
                "spins": ["This field is required."],
                "activation": ["This field is required."],
            },
        ),
        (
            "ha",
            {},
            {
                "product_name": ["This field is required."],
                "molecular_weight_kda": ["This field is required."],
                "cross_linked": ["This field is required."],
                "dose_mg": ["This field is required."],
            },
        ),
        ("corticosteroid", {}, {"drug": ["This field is required."], "dose_mg": ["This field is required."]}),
        ("corticosteroid", {**STEROID_PROTOCOL, "drug": "cortisone"}, None),
        ("other", {}, {"description": ["This field is required."]}),
    ],
)
def test_protocol_errors_are_nested_per_key(api_as, clinician, patient, product, protocol, expected):
    response = post(api_as(clinician), new_injection(patient, product=product, protocol=protocol))
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["protocol"]
    if expected is None:
        assert list(errors["protocol"]) == ["drug"]
    else:
        assert errors["protocol"] == expected
    assert not Injection.objects.exists()


@pytest.mark.parametrize(
    ("product", "protocol"),
    [("prp", PRP_PROTOCOL), ("ha", HA_PROTOCOL), ("corticosteroid", STEROID_PROTOCOL), ("saline", {})],
)
def test_valid_protocols_of_other_products_are_recorded(api_as, clinician, patient, product, protocol):
    response = post(api_as(clinician), new_injection(patient, product=product, protocol=protocol))
    assert response.status_code == 201, response.json()
    assert Injection.objects.get().protocol == protocol


def test_missing_protocol_reports_every_required_key(api_as, clinician, patient):
    data = _without(new_injection(patient), "protocol")
    response = post(api_as(clinician), data)
    assert response.status_code == 400
    assert response.json()["protocol"]["harvest_site"] == ["This field is required."]
    assert response.json()["protocol"]["processing_system"] == ["This field is required."]


def test_exosome_without_governance_names_each_missing_item(api_as, clinician, patient):
    response = post(api_as(clinician), new_injection(patient, product="exosome", protocol=dict(EXOSOME_PROTOCOL)))
    assert response.status_code == 400
    assert list(response.json()) == ["governance"]
    [message] = response.json()["governance"]["non_field_errors"]
    assert message.startswith("Exosome")
    assert "Missing: study registration number, ethics approval reference, regulatory framework." in message
    assert not Injection.objects.exists()


def test_exosome_with_a_bad_registration_number(api_as, clinician, patient):
    governance = {**GOVERNANCE, "study_registration": "TRIAL-42"}
    data = new_injection(patient, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=governance)
    response = post(api_as(clinician), data)
    assert response.status_code == 400
    [message] = response.json()["governance"]["study_registration"]
    assert message.startswith("Not a recognised trial registration number")


def test_exosome_governance_rejects_unknown_keys_and_reports_missing_ones(api_as, clinician, patient):
    governance = {"study_registration": "NCT01234567", "irb": "x"}
    data = new_injection(patient, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=governance)
    errors = post(api_as(clinician), data).json()["governance"]
    assert errors["irb"] == ["Unknown field."]
    assert errors["ethics_reference"] == ["This field is required."]
    assert errors["regulatory_framework"] == ["This field is required."]


def test_exosome_with_governance_is_recorded(api_as, clinician, patient):
    governance = {**GOVERNANCE, "study_registration": "nct 01234567"}
    data = new_injection(patient, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=governance)
    response = post(api_as(clinician), data)
    assert response.status_code == 201, response.json()
    assert response.json()["governance"]["study_registration"] == "NCT01234567"


# --- Invalid input is a 400, never a 500 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sedation": "none"}, "sedation"),
        ({"plan": 1}, "plan"),
        ({"age_at_injection": 40}, "age_at_injection"),
        ({"knee": "both"}, "knee"),
        ({"product": "stem_cells"}, "product"),
        ({"status": "cancelled"}, "status"),
        ({"injected_on": "2026-13-01"}, "injected_on"),
        ({"injected_on": 20260302}, "injected_on"),
        ({"volume_ml": "six"}, "volume_ml"),
        ({"volume_ml": 10**40}, "volume_ml"),
        ({"volume_ml": 6.25}, "volume_ml"),
        ({"kl_grade": 5}, "kl_grade"),
        ({"kl_grade": "two"}, "kl_grade"),
        ({"kl_grade": 10**30}, "kl_grade"),
        ({"bmi": 5}, "bmi"),
        ({"patient": "me"}, "patient"),
        ({"patient": 10**30}, "patient"),
        ({"rehabilitation_notes": "walk\x00daily"}, "rehabilitation_notes"),
        ({"previous_treatments": "physiotherapy"}, "previous_treatments"),
        ({"previous_treatments": ["acupuncture"]}, "previous_treatments"),
        ({"pathology": [{"code": "other"}]}, "pathology"),
        ({"protocol": ["harvest_site"]}, "protocol"),
        ({"protocol": "posterior_iliac_crest"}, "protocol"),
        ({"protocol": {**BMAC_PROTOCOL, "harvest_site": ["a", "b"]}}, "protocol"),
        ({"protocol": {**BMAC_PROTOCOL, "processing_system": "Kit\x00"}}, "protocol"),
        ({"protocol": {**BMAC_PROTOCOL, "aspirate_volume_ml": True}}, "protocol"),
        ({"governance": "NCT01234567"}, "governance"),
        ({"alignment": "neutral", "alignment_degrees": 4}, "alignment_degrees"),
        ({"alignment_degrees": None}, "alignment_degrees"),
        ({"planned_injections": 0}, "planned_injections"),
        ({"planned_injections": 11}, "planned_injections"),
        ({"number_in_plan": 2}, "number_in_plan"),
        ({"number_in_plan": "second"}, "number_in_plan"),
    ],
)
def test_record_rejects_invalid_input_field_by_field(api_as, clinician, patient, changes, field):
    response = post(api_as(clinician), {**new_injection(patient), **changes})
    assert response.status_code == 400
    assert field in response.json()
    assert not Injection.objects.exists()


def test_unknown_top_level_field_message(api_as, clinician, patient):
    response = post(api_as(clinician), new_injection(patient, sedation="none"))
    assert response.json() == {"sedation": ["Unknown field."]}


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "null",
        '"injection"',
        '{"kl_grade": 1e999}',
        '{"patient": 1e999}',
        '{"protocol": {"aspirate_volume_ml": 1e999}}',
        '{"volume_ml": NaN}',
    ],
)
def test_record_with_a_body_that_is_not_an_injection_is_a_400(api_as, clinician, patient, body):
    response = api_as(clinician).post(URL, body, content_type="application/json")
    assert response.status_code == 400


def test_huge_protocol_numbers_are_field_errors(api_as, clinician, patient):
    # 1e999 is valid JSON that parses to infinity; the encoder would never write it, so edit the text.
    body = json.dumps(new_injection(patient)).replace('"aspirate_volume_ml": 60', '"aspirate_volume_ml": 1e999')
    assert "1e999" in body
    response = api_as(clinician).post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "aspirate_volume_ml" in response.json()["protocol"]


def test_no_new_injection_after_consent_is_withdrawn(api_as, clinician, patient):
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="asked")
    response = post(api_as(clinician), new_injection(patient))
    assert response.status_code == 400
    assert "withdrawn consent" in response.json()["non_field_errors"][0]


# --- Staged plans -----------------------------------------------------------------------------------------


def test_second_injection_of_a_staged_plan_joins_the_plan(api_as, clinician, patient):
    api = api_as(clinician)
    first = post(api, new_injection(patient, planned_injections=2))
    assert first.status_code == 201, first.json()
    second = post(api, new_injection(patient, planned_injections=2, number_in_plan=2, injected_on="2026-03-16"))
    assert second.status_code == 201, second.json()
    assert second.json()["plan"] == first.json()["plan"]
    assert second.json()["planned_injections"] == 2
    assert second.json()["number_in_plan"] == 2
    staged = api.get(URL, {"staged": "true"}).json()
    assert staged["count"] == 2


def test_second_stage_twice_or_before_the_first_is_refused(api_as, clinician, patient):
    api = api_as(clinician)
    assert post(api, new_injection(patient, planned_injections=2)).status_code == 201
    too_early = post(api, new_injection(patient, planned_injections=2, number_in_plan=2, injected_on="2026-03-01"))
    assert too_early.status_code == 400
    assert "injected_on" in too_early.json()
    data = new_injection(patient, planned_injections=2, number_in_plan=2, injected_on="2026-03-16")
    assert post(api, data).status_code == 201
    again = post(api, data)
    assert again.status_code == 400
    assert "number_in_plan" in again.json()


# --- Corrections ---------------------------------------------------------------------------------------------


def test_patch_without_reason_is_a_400(api_as, clinician, injection):
    response = api_as(clinician).patch(detail(injection), {"kl_grade": 3})
    assert response.status_code == 400
    assert response.json() == {"reason": ["This field is required."]}
    injection.refresh_from_db()
    assert injection.kl_grade == 2


@pytest.mark.parametrize("reason", ["", "   ", "x" * 101, "typo\x00"])
def test_patch_with_an_unusable_reason_is_a_400(api_as, clinician, injection, reason):
    response = api_as(clinician).patch(detail(injection), {"kl_grade": 3, "reason": reason})
    assert response.status_code == 400
    assert "reason" in response.json()


def test_patch_date_change_keeps_history(api_as, clinician, injection):
    response = api_as(clinician).patch(
        detail(injection), {"injected_on": "2026-03-04", "reason": "Date entered wrongly"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["injected_on"] == "2026-03-04"
    injection.refresh_from_db()
    assert injection.injected_on == dt.date(2026, 3, 4)
    assert injection.history.count() == 2
    latest = injection.history.first()
    assert latest.history_change_reason == "Date entered wrongly"
    assert latest.history_user == clinician
    assert injection.history.last().injected_on == dt.date(2026, 3, 2)


def test_patch_protocol_is_validated_against_the_recorded_product(api_as, clinician, injection):
    api = api_as(clinician)
    response = api.patch(
        detail(injection), {"protocol": _without(BMAC_PROTOCOL, "harvest_site"), "reason": "Completing the record"}
    )
    assert response.status_code == 400
    assert response.json() == {"protocol": {"harvest_site": ["This field is required."]}}
    complete = {**BMAC_PROTOCOL, "anaesthesia": "local"}
    response = api.patch(detail(injection), {"protocol": complete, "reason": "Completing the record"})
    assert response.status_code == 200, response.json()
    assert "Harvest anaesthesia" not in response.json()["protocol_completeness"]["missing"]


@pytest.mark.parametrize(("field", "value"), [("product", "prp"), ("knee", "right")])
def test_product_and_knee_cannot_change(api_as, clinician, injection, field, value):
    response = api_as(clinician).patch(detail(injection), {field: value, "reason": "Wrong entry"})
    assert response.status_code == 400
    assert "Cannot change once recorded" in response.json()[field][0]
    injection.refresh_from_db()
    assert getattr(injection, field) != value


@pytest.mark.parametrize(
    ("field", "value"), [("patient", 1), ("planned_injections", 2), ("number_in_plan", 2), ("plan", 1), ("x", 1)]
)
def test_patch_rejects_fields_fixed_at_creation(api_as, clinician, injection, field, value):
    response = api_as(clinician).patch(detail(injection), {field: value, "reason": "Change"})
    assert response.status_code == 400
    assert field in response.json()
    assert injection.history.count() == 1


def test_injections_are_never_deleted_or_replaced(api_as, clinician, injection):
    api = api_as(clinician)
    assert api.delete(detail(injection)).status_code == 405
    assert api.put(detail(injection), new_injection(injection.patient)).status_code == 405
    assert Injection.objects.filter(pk=injection.pk).exists()


# --- Scoping and roles -------------------------------------------------------------------------------------


def test_outsider_gets_404_for_retrieve_and_patch(api_as, outsider, injection):
    api = api_as(outsider)
    assert api.get(detail(injection)).status_code == 404
    assert api.patch(detail(injection), {"kl_grade": 3, "reason": "x"}).status_code == 404
    assert injection.history.count() == 1


def test_outsider_cannot_record_for_another_clinics_patient(api_as, outsider, patient):
    response = post(api_as(outsider), new_injection(patient))
    assert response.status_code == 400
    assert "does not exist" in response.json()["patient"][0]
    assert not Injection.objects.exists()


def test_list_excludes_other_clinics(api_as, clinician, outsider, injection, other_clinic):
    theirs = make_injection(PatientFactory(clinic=other_clinic), outsider)
    mine = api_as(clinician).get(URL).json()
    assert [i["id"] for i in mine["results"]] == [injection.id]
    assert api_as(outsider).get(URL, {"patient": injection.patient_id}).json()["count"] == 0
    assert [i["id"] for i in api_as(outsider).get(URL).json()["results"]] == [theirs.id]


def test_auditor_reads_but_never_writes(api_as, auditor, injection, patient):
    api = api_as(auditor)
    assert api.get(URL).json()["count"] == 1
    assert api.get(detail(injection)).status_code == 200
    assert post(api, new_injection(patient, injected_on="2026-04-01")).status_code == 403
    assert api.patch(detail(injection), {"kl_grade": 3, "reason": "x"}).status_code == 403
    assert api.delete(detail(injection)).status_code == 403
    assert Injection.objects.count() == 1
    assert injection.history.count() == 1


def test_auditor_here_and_clinician_elsewhere_cannot_change_this_clinics_injection(
    api_as, injection, clinic, other_clinic
):
    user = staff(other_clinic, Role.CLINICIAN)
    user.memberships.create(clinic=clinic, role=Role.AUDITOR)
    api = api_as(user)
    assert api.get(detail(injection)).status_code == 200
    assert api.patch(detail(injection), {"kl_grade": 3, "reason": "x"}).status_code == 403


def test_unauthenticated_is_refused(api, injection):
    assert api.get(URL).status_code == 401
    assert api.get(detail(injection)).status_code == 401
    assert api.post(URL, new_injection(injection.patient)).status_code == 401


def test_token_authentication(api, clinician, injection):
    token = Token.objects.create(user=clinician)
    response = api.get(detail(injection), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["id"] == injection.id
    response = api.patch(
        detail(injection), {"kl_grade": 3, "reason": "Re-read X-ray"}, HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 200
    assert response.json()["kl_grade"] == 3


# --- Lists -------------------------------------------------------------------------------------------------


def _ids(api, **params) -> set[int]:
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return {i["id"] for i in response.json()["results"]}


def test_filters(api_as, clinician, outsider, clinic, other_clinic, admin_user):
    p1 = PatientFactory(clinic=clinic)
    p2 = PatientFactory(clinic=clinic)
    bmac = make_injection(p1, clinician, kl_grade=3)
    filtered = make_injection(
        p1,
        clinician,
        knee="right",
        injected_on=dt.date(2026, 5, 1),
        protocol={**BMAC_PROTOCOL, "harvest_site": "proximal_tibia", "processing_method": "filtration"},
    )
    prp = make_injection(
        p2, clinician, product="prp", protocol=dict(PRP_PROTOCOL), status="planned", injected_on=dt.date(2026, 6, 1)
    )
    staged = make_injection(p2, clinician, planned_injections=3, injected_on=dt.date(2026, 2, 1))
    elsewhere = make_injection(PatientFactory(clinic=other_clinic), outsider)
    api = api_as(admin_user)
    assert _ids(api, patient=p1.id) == {bmac.id, filtered.id}
    assert _ids(api, clinic=clinic.id) == {bmac.id, filtered.id, prp.id, staged.id}
    assert _ids(api, clinic=other_clinic.id) == {elsewhere.id}
    assert _ids(api, product="prp") == {prp.id}
    assert _ids(api, knee="right") == {filtered.id}
    assert _ids(api, status="planned") == {prp.id}
    assert _ids(api, kl_grade=3) == {bmac.id}
    assert _ids(api, injected_after="2026-05-01") == {filtered.id, prp.id}
    assert _ids(api, injected_before="2026-03-01") == {staged.id}
    assert _ids(api, injected_after="2026-03-01", injected_before="2026-05-01") == {bmac.id, filtered.id, elsewhere.id}
    assert _ids(api, harvest_site="proximal_tibia") == {filtered.id}
    assert _ids(api, processing_method="filtration") == {filtered.id}
    assert _ids(api, processing_method="centrifugation") == {bmac.id, staged.id, elsewhere.id}
    assert _ids(api, staged="true") == {staged.id}
    assert staged.id not in _ids(api, staged="false")
    for bad in (
        {"product": "magic"},
        {"injected_after": "soon"},
        {"kl_grade": "two"},
        {"kl_grade": "1e999"},
        {"patient": "1.5"},
        {"harvest_site": "tibia\x00"},
        {"staged": "sometimes"},
    ):
        assert api.get(URL, bad).status_code == 400, bad


def test_list_is_paginated(api_as, clinician, patient):
    for day in range(1, 4):
        make_injection(patient, clinician, injected_on=dt.date(2026, 3, day), knee="right" if day % 2 else "left")
    body = api_as(clinician).get(URL, {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert body["previous"] is None
    assert [i["injected_on"] for i in body["results"]] == ["2026-03-03", "2026-03-02"]


def test_list_queries_do_not_grow_with_rows(api, clinician, patient, django_assert_max_num_queries):
    make_injection(patient, clinician)
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with CaptureQueriesContext(connection) as one_row:
        assert api.get(URL).json()["count"] == 1
    for n in range(19):
        other = PatientFactory(clinic=patient.clinic)
        make_injection(other, clinician, planned_injections=2 if n % 2 else 1)
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with django_assert_max_num_queries(len(one_row)), CaptureQueriesContext(connection) as twenty_rows:
        assert api.get(URL).json()["count"] == 20
    assert len(twenty_rows) == len(one_row)


def test_a_new_course_may_repeat_an_earlier_one_in_the_same_knee(api_as, clinician, patient, outsider):
    """repeat_of (issue 16): the earlier course that did not help; the same patient's same knee, audited."""
    earlier = make_injection(patient, clinician).plan
    api = api_as(clinician)
    other_knee = post(api, new_injection(patient, knee="right", repeat_of=earlier.pk, injected_on="2026-09-20"))
    assert other_knee.status_code == 400
    assert "same knee of the same patient" in other_knee.json()["repeat_of"][0]
    elsewhere = make_injection(PatientFactory(clinic=outsider.memberships.get().clinic), outsider).plan
    assert post(api, new_injection(patient, repeat_of=elsewhere.pk, injected_on="2026-09-20")).status_code == 400
    response = post(api, new_injection(patient, repeat_of=earlier.pk, injected_on="2026-09-20"))
    assert response.status_code == 201, response.json()
    assert response.json()["repeat_of"] == earlier.pk
    repeat = Injection.objects.get(pk=response.json()["id"]).plan
    assert repeat.repeat_of == earlier
    assert (
        repeat.history.get().history_change_reason
        == f"Plan opened with first injection (repeat of course {earlier.pk})"
    )

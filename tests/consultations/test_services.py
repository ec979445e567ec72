"""consultation_record / consultation_update: every decision rule at its boundaries, the selection factors judged
by the registry's own rules, scoped write permission, and the audit history."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from consultations.models import Consultation
from consultations.services import consultation_record, consultation_update
from registry.services import UnconfirmedWarnings
from tests.consultations.factories import advise_against, consultation_data, make_consultation
from tests.factories import staff

LONDON = zoneinfo.ZoneInfo("Europe/London")


def errors_of(patient, by, **overrides) -> dict:
    before = Consultation.objects.count()
    with pytest.raises(ValidationError) as caught:
        consultation_record(patient=patient, by=by, data=consultation_data(**overrides))
    assert Consultation.objects.count() == before  # nothing stored
    return caught.value.message_dict


def test_a_proceeding_consultation_is_recorded_with_its_history(patient, clinician):
    consultation = make_consultation(patient, clinician)
    assert consultation.decision == "proceed"
    assert consultation.proposed_product == "bmac"
    assert consultation.clinician == clinician  # defaults to the person recording it
    assert consultation.created_by == clinician
    assert consultation.age_at_consultation == 2026 - 1960
    assert consultation.review_after_months == 6
    assert consultation.not_improved_rule == "mcid_or_responder"
    assert consultation.injection is None
    (row,) = consultation.history.all()
    assert row.history_type == "+"
    assert row.history_user == clinician
    assert row.history_change_reason == "Consultation recorded"


def test_advising_against_is_recorded_and_needs_a_reason_against(patient, clinician):
    consultation = consultation_record(patient=patient, by=clinician, data=advise_against())
    assert consultation.decision == "advise_against"
    assert consultation.referred_to == "Surgical opinion"
    problems = errors_of(patient, clinician, **{**advise_against(), "reasons_against": []})
    assert problems == {"reasons_against": ["Advising against an injection needs at least one reason against."]}


def test_undecided_needs_no_product_and_no_reason(patient, clinician):
    data = consultation_data(decision="undecided", proposed_product="", fallback_offer=[])
    assert consultation_record(patient=patient, by=clinician, data=data).decision == "undecided"


def test_a_product_exactly_when_proceeding(patient, clinician):
    assert "proposed_product" in errors_of(patient, clinician, proposed_product="")
    problems = errors_of(patient, clinician, **{**advise_against(), "proposed_product": "prp"})
    assert problems["proposed_product"] == ["Only when the decision is to proceed with an injection."]
    assert "proposed_product" in errors_of(patient, clinician, proposed_product="gold")  # not a product


def test_a_referral_goes_with_advising_against_not_with_proceeding(patient, clinician):
    assert "referred_to" in errors_of(patient, clinician, referred_to="Physiotherapy")


def test_the_fallback_plan_is_required_when_proceeding_and_refused_otherwise(patient, clinician):
    assert "fallback_offer" in errors_of(patient, clinician, fallback_offer=[])
    assert "fallback_offer" in errors_of(
        patient, clinician, **{**advise_against(), "fallback_offer": ["physiotherapy"]}
    )
    assert "review_after_months" in errors_of(patient, clinician, **{**advise_against(), "review_after_months": 3})
    problems = errors_of(patient, clinician, **{**advise_against(), "not_improved_rule": "mcid_oks"})
    assert "not_improved_rule" in problems


@pytest.mark.parametrize(("months", "ok"), [(0, False), (1, True), (24, True), (25, False)])
def test_review_point_between_1_and_24_months(patient, clinician, months, ok):
    if ok:
        assert make_consultation(patient, clinician, review_after_months=months).review_after_months == months
    else:
        assert "review_after_months" in errors_of(patient, clinician, review_after_months=months)


@pytest.mark.parametrize(("grade", "ok"), [(3, False), (4, True)])
def test_kl_4_as_a_reason_against_only_with_kl_grade_4(patient, clinician, grade, ok):
    data = advise_against(kl_grade=grade)
    if ok:
        assert consultation_record(patient=patient, by=clinician, data=data).reasons_against == ["kl_4", "mechanical"]
    else:
        with pytest.raises(ValidationError) as caught:
            consultation_record(patient=patient, by=clinician, data=data)
        assert "KL grade of 3" in caught.value.message_dict["reasons_against"][0]


@pytest.mark.parametrize(("grade", "ok"), [(0, False), (1, True), (3, True), (4, False)])
def test_early_oa_indication_only_with_kl_grade_1_to_3(patient, clinician, grade, ok):
    if ok:
        assert make_consultation(patient, clinician, kl_grade=grade).kl_grade == grade
    else:
        assert "indications" in errors_of(patient, clinician, kl_grade=grade)


def test_marked_malalignment_needs_varus_or_valgus_with_degrees(patient, clinician):
    data = advise_against(kl_grade=3, reasons_against=["malalignment"], alignment="neutral", alignment_degrees=None)
    with pytest.raises(ValidationError) as caught:
        consultation_record(patient=patient, by=clinician, data=data)
    assert "reasons_against" in caught.value.message_dict
    data = advise_against(kl_grade=3, reasons_against=["malalignment"], alignment="valgus", alignment_degrees=12)
    assert consultation_record(patient=patient, by=clinician, data=data).alignment_degrees == 12


def test_other_reason_against_needs_the_reasoning(patient, clinician):
    problems = errors_of(patient, clinician, **advise_against(reasons_against=["other"], kl_grade=2, reasoning=" "))
    assert problems == {"reasoning": ["Say what the other reason against is."]}


def test_reasoning_is_at_most_1000_characters(patient, clinician):
    assert len(make_consultation(patient, clinician, reasoning="x" * 1000).reasoning) == 1000
    assert "reasoning" in errors_of(patient, clinician, reasoning="x" * 1001)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("previous_treatments", ["none", "nsaid"], "“None” cannot be chosen with other answers."),
        ("fallback_offer", ["nothing", "physiotherapy"], "“Nothing further” cannot be chosen with other answers."),
        ("indications", ["early_oa", "early_oa"], "Each answer once."),
        ("alternatives_discussed", ["acupuncture"], "Unknown code(s): acupuncture."),
        ("reasons_against", "kl_4", "Must be a list of codes."),
    ],
)
def test_multiple_choice_answers_are_codes_of_their_vocabulary(patient, clinician, field, value, message):
    problems = errors_of(patient, clinician, **{field: value})
    assert problems[field][0].startswith(message)


def test_selection_factors_follow_the_registrys_rules(patient, clinician):
    problems = errors_of(
        patient,
        clinician,
        bmi=None,
        alignment_degrees=None,
        kl_radiograph_on=dt.date(2026, 2, 21),
        pathology=["gout"],
    )
    assert problems["bmi"] == ["Give the BMI (kg/m²), or choose “Not measured”."]
    assert problems["alignment_degrees"] == ["Give the degrees of varus deformity."]
    assert problems["kl_radiograph_on"][0].startswith("After the consultation date (20 Feb 2026)")
    assert "pathology" in problems
    bmi_not_measured = make_consultation(patient, clinician, bmi=None, bmi_status="not_measured")
    assert bmi_not_measured.bmi is None


def test_an_unusual_value_is_saved_only_once_confirmed(patient, clinician):
    unusual = {"effusion": "present", "effusion_aspirated_ml": 150}
    with pytest.raises(UnconfirmedWarnings) as caught:
        make_consultation(patient, clinician, **unusual)
    assert [w.code for w in caught.value.warnings] == ["selection.effusion_aspirated_ml"]
    assert not Consultation.objects.exists()
    consultation = make_consultation(
        patient, clinician, **unusual, acknowledged_warnings=["selection.effusion_aspirated_ml"]
    )
    assert "unusual values confirmed: effusion_aspirated_ml 150" in consultation.history.get().history_change_reason


def test_the_day_is_not_in_the_future_in_the_clinics_time_zone(patient, clinician):
    # 23:30 UTC on 1 June is 00:30 on 2 June in London (BST): 2 June is today there, 3 June is not yet.
    with time_machine.travel(dt.datetime(2026, 6, 1, 23, 30, tzinfo=dt.UTC), tick=False):
        assert make_consultation(patient, clinician, consulted_on=dt.date(2026, 6, 2)).consulted_on
        problems = errors_of(patient, clinician, consulted_on=dt.date(2026, 6, 3))
    assert problems["consulted_on"][0].startswith("In the future")


def test_the_day_is_not_before_the_patient_was_born(patient, clinician):
    assert errors_of(patient, clinician, consulted_on=dt.date(1959, 12, 31), kl_radiograph_on=None) == {
        "consulted_on": ["Before the patient was born (1960)."]
    }


def test_unknown_fields_are_refused(patient, clinician):
    assert errors_of(patient, clinician, kl_grad=2) == {"kl_grad": ["Unknown field."]}


def test_the_clinician_works_in_the_patients_clinic(patient, clinician, outsider):
    assert errors_of(patient, clinician, clinician=outsider) == {
        "clinician": ["Must be a clinician or lead of the patient's clinic."]
    }


def test_a_withdrawn_patient_gets_no_new_consultation(patient, clinician):
    patient.consent_withdrawn_at = dt.datetime(2026, 2, 1, tzinfo=LONDON)
    patient.save()
    with pytest.raises(ValidationError):
        make_consultation(patient, clinician)


@pytest.mark.parametrize("persona", ["auditor", "outsider"])
def test_only_writers_of_the_patients_clinic_record(patient, persona, request):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        make_consultation(patient, user)
    assert not Consultation.objects.exists()


def test_a_lead_records_too(patient, lead):
    assert make_consultation(patient, lead).clinician == lead


# --- Corrections ---------------------------------------------------------------------------------------------------


def test_a_correction_is_audited_with_its_reason(patient, clinician, lead):
    consultation = make_consultation(patient, clinician)
    consultation_update(consultation=consultation, by=lead, data={"kl_grade": 3}, reason="X-ray re-read")
    consultation.refresh_from_db()
    assert consultation.kl_grade == 3
    latest = consultation.history.order_by("-history_id").first()
    assert (latest.history_type, latest.history_user, latest.history_change_reason) == ("~", lead, "X-ray re-read")
    assert consultation.history.count() == 2


def test_a_refused_correction_changes_nothing(patient, clinician):
    consultation = make_consultation(patient, clinician)
    with pytest.raises(ValidationError) as caught:
        consultation_update(
            consultation=consultation, by=clinician, data={"decision": "advise_against"}, reason="Changed mind"
        )
    # Advising against: no product, no fallback offer, and a reason against are all asked for together.
    assert {"proposed_product", "reasons_against", "fallback_offer"} <= set(caught.value.message_dict)
    consultation.refresh_from_db()
    assert consultation.decision == "proceed"
    assert consultation.history.count() == 1
    with pytest.raises(ValidationError) as caught:
        consultation_update(consultation=consultation, by=clinician, data={"kl_grade": 3}, reason="  ")
    assert caught.value.message_dict == {"reason": ["Say why the consultation record is being changed."]}


def test_changing_the_decision_to_advise_against_in_one_correction(patient, clinician):
    consultation = make_consultation(patient, clinician)
    data = {
        "decision": "advise_against",
        "proposed_product": "",
        "fallback_offer": [],
        "reasons_against": ["unrealistic_expectations"],
        "referred_to": "Physiotherapy",
    }
    consultation_update(consultation=consultation, by=clinician, data=data, reason="Patient reconsidered")
    consultation.refresh_from_db()
    assert (consultation.decision, consultation.referred_to) == ("advise_against", "Physiotherapy")


@pytest.mark.parametrize("persona", ["auditor", "outsider"])
def test_only_writers_correct(patient, clinician, persona, request):
    consultation = make_consultation(patient, clinician)
    with pytest.raises(PermissionDenied):
        consultation_update(
            consultation=consultation, by=request.getfixturevalue(persona), data={"kl_grade": 3}, reason="Re-read"
        )
    consultation.refresh_from_db()
    assert consultation.kl_grade == 2


def test_a_lead_of_another_clinic_too_cannot_correct(patient, clinician, other_clinic):
    other_lead = staff(other_clinic, "lead", username="lead_south")
    consultation = make_consultation(patient, clinician)
    with pytest.raises(PermissionDenied):
        consultation_update(consultation=consultation, by=other_lead, data={"kl_grade": 3}, reason="Re-read")


def test_an_old_radiograph_is_asked_about_in_the_consultations_words(patient, clinician):
    with pytest.raises(UnconfirmedWarnings) as caught:
        make_consultation(patient, clinician, kl_radiograph_on=dt.date(2025, 1, 20))
    (warning,) = caught.value.warnings
    assert warning.code == "selection.kl_radiograph_on"
    assert "more than 12 months before the consultation:" in warning.message

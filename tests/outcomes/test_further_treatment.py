"""Further treatment since the last questionnaire: the questions asked at every follow-up after baseline, stored
structured with the answers, turned into events, reconciled with what the clinic records (same knee, kind and month
is one event, both sources marked); the clinician's page, its permissions, and the patient page."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from outcomes.further_treatments import further_treatment_record
from outcomes.models import FollowUp, FollowUpStatus, FurtherTreatment, Submission, Timepoint
from outcomes.services import questionnaire_submit, submission_amend
from tests.support.answers import answers_for
from tests.support.clock import travel_to

D = dt.date
TKR_IN_MARCH = {"FURTHER.surgery": "yes", "FURTHER.surgery_kind": "4", "FURTHER.surgery_month": "2026-03"}


@pytest.fixture
def one_month(recorded):
    return FollowUp.objects.select_related("plan", "clinic", "patient").get(
        plan=recorded.plan, timepoint=Timepoint.ONE_MONTH
    )


def submit(follow_up, **overrides):
    with travel_to(follow_up.due_on):
        return questionnaire_submit(follow_up=follow_up, data=answers_for(follow_up, **overrides))


def test_no_further_treatment_is_stored_as_answers_and_makes_no_event(one_month):
    submission = submit(one_month, **{"FURTHER.pain_medicine": "1", "FURTHER.physiotherapy": "2"})
    further = submission.answers["FURTHER"]
    assert further["injection"] == {"value": False}
    assert further["surgery"] == {"value": False}
    assert further["pain_medicine"] == {"value": 1, "option": "Now and then"}
    assert further["physiotherapy"] == {"value": 2, "option": "Sessions with a physiotherapist"}
    assert submission.instrument_versions["FURTHER"] == "1"
    assert not FurtherTreatment.objects.exists()


def test_a_reported_knee_replacement_is_stored_and_becomes_an_event(one_month, patient):
    submission = submit(one_month, **TKR_IN_MARCH)
    assert submission.answers["FURTHER"]["surgery_kind"] == {"value": 4, "option": "Total knee replacement"}
    assert submission.answers["FURTHER"]["surgery_month"] == {"value": "2026-03"}
    event = FurtherTreatment.objects.get()
    assert (event.patient, event.plan_id, event.knee, event.kind, event.month, event.day) == (
        patient,
        one_month.plan_id,
        "left",
        "total_knee_replacement",
        D(2026, 3, 1),
        None,
    )
    assert (event.reported_by_patient, event.recorded_by_clinic, event.submission) == (True, False, submission)
    assert event.is_arthroplasty
    assert event.history.get().history_change_reason == "Reported by the patient (1 month questionnaire)"


def test_an_injection_and_an_operation_in_one_questionnaire_are_two_events(one_month):
    submit(
        one_month,
        **TKR_IN_MARCH,
        **{"FURTHER.injection": "yes", "FURTHER.injection_kind": "1", "FURTHER.injection_month": "2026-04"},
    )
    assert sorted(FurtherTreatment.objects.values_list("kind", "month")) == [
        ("steroid_injection", D(2026, 4, 1)),
        ("total_knee_replacement", D(2026, 3, 1)),
    ]


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"FURTHER.surgery": "yes"}, {"FURTHER.surgery_kind", "FURTHER.surgery_month"}),
        ({"FURTHER.surgery_kind": "4"}, {"FURTHER.surgery_kind"}),  # "no" above, yet an operation named
        ({**TKR_IN_MARCH, "FURTHER.surgery_month": "2026-05"}, {"FURTHER.surgery_month"}),  # still to come
        ({**TKR_IN_MARCH, "FURTHER.surgery_month": "2026-02"}, {"FURTHER.surgery_month"}),  # before the injection
        ({**TKR_IN_MARCH, "FURTHER.surgery_month": "2026-13"}, {"FURTHER.surgery_month"}),
        ({**TKR_IN_MARCH, "FURTHER.surgery_month": "March"}, {"FURTHER.surgery_month"}),
        ({"FURTHER.pain_medicine": None}, {"FURTHER.pain_medicine"}),
    ],
)
def test_unclear_answers_get_a_message_and_nothing_is_stored(one_month, overrides, errors):
    with pytest.raises(ValidationError) as caught:
        submit(one_month, **overrides)
    assert set(caught.value.message_dict) == errors
    assert not Submission.objects.filter(follow_up=one_month).exists()
    assert not FurtherTreatment.objects.exists()
    one_month.refresh_from_db()
    assert one_month.status != FollowUpStatus.COMPLETED


def test_the_clinic_learning_of_the_same_operation_adds_its_source_to_the_one_event(one_month, clinician):
    submission = submit(one_month, **TKR_IN_MARCH)
    event = further_treatment_record(
        plan=one_month.plan,
        kind="total_knee_replacement",
        day=D(2026, 3, 20),
        by=clinician,
        on=D(2026, 4, 10),
        note="Letter from the surgeon",
    )
    assert FurtherTreatment.objects.count() == 1
    event.refresh_from_db()
    assert (event.reported_by_patient, event.recorded_by_clinic) == (True, True)
    assert (event.submission, event.recorded_by, event.day, event.recorded_on) == (
        submission,
        clinician,
        D(2026, 3, 20),
        D(2026, 4, 10),
    )
    assert event.sources == "Patient and clinic"
    assert event.note == "Letter from the surgeon"
    reasons = list(event.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons[:2] == [
        "Reported by the patient (1 month questionnaire)",
        "Recorded by the clinic (the same event was already known)",
    ]


def test_the_patient_reporting_what_the_clinic_recorded_is_one_event_too(one_month, clinician):
    further_treatment_record(
        plan=one_month.plan, kind="total_knee_replacement", month=D(2026, 3, 1), by=clinician, on=D(2026, 3, 25)
    )
    submission = submit(one_month, **TKR_IN_MARCH)
    event = FurtherTreatment.objects.get()
    assert (event.reported_by_patient, event.recorded_by_clinic, event.submission) == (True, True, submission)


def test_another_month_or_another_kind_is_another_event(one_month, clinician):
    submit(one_month, **TKR_IN_MARCH)
    further_treatment_record(
        plan=one_month.plan, kind="total_knee_replacement", month=D(2026, 4, 1), by=clinician, on=D(2026, 4, 10)
    )
    further_treatment_record(
        plan=one_month.plan, kind="arthroscopy", month=D(2026, 3, 1), by=clinician, on=D(2026, 4, 10)
    )
    assert FurtherTreatment.objects.count() == 3


@pytest.mark.parametrize(
    ("when", "field"),
    [
        ({"month": D(2026, 5, 1)}, "month"),  # still to come on 10 April
        ({"day": D(2026, 4, 11)}, "month"),
        ({"month": D(2026, 1, 1)}, "month"),  # before the plan's first injection (2 March)
        ({}, "month"),
    ],
)
def test_the_clinic_cannot_record_a_date_to_come_or_before_the_plan(recorded, clinician, when, field):
    with pytest.raises(ValidationError) as caught:
        further_treatment_record(plan=recorded.plan, kind="osteotomy", by=clinician, on=D(2026, 4, 10), **when)
    assert field in caught.value.message_dict
    assert not FurtherTreatment.objects.exists()


def test_an_answer_given_before_these_questions_existed_is_amended_without_them(one_month, clinician):
    submission = submit(one_month)
    # As stored by the registry before the further-treatment questions: no FURTHER block or version.
    Submission.objects.filter(pk=submission.pk).update(
        answers={k: v for k, v in submission.answers.items() if k != "FURTHER"},
        instrument_versions={k: v for k, v in submission.instrument_versions.items() if k != "FURTHER"},
    )
    submission.refresh_from_db()
    data = {k: v for k, v in answers_for(one_month, **{"VAS.pain": "10"}).items() if not k.startswith("FURTHER.")}
    amendment = submission_amend(submission=submission, by=clinician, data=data, reason="Read back wrongly")
    assert "FURTHER" not in amendment.answers_after
    assert amendment.scores_after["VAS"]["pain"] == 10


# --- The clinician's page and the patient page -----------------------------------------------------------------


def url(patient) -> str:
    return reverse("outcomes:further-treatment-new", args=[patient.registry_number])


def test_a_clinician_records_a_further_treatment_from_the_patient_page(client, clinician, recorded, patient):
    client.force_login(clinician)
    page = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).content.decode()
    assert "None reported" in page
    assert url(patient) in page
    form = client.get(url(patient))
    assert form.status_code == 200
    assert 'type="month"' in form.content.decode()

    with travel_to(D(2026, 9, 1)):
        client.force_login(clinician)  # the session would have expired over the months
        response = client.post(
            url(patient),
            {"plan": recorded.plan_id, "kind": "partial_knee_replacement", "month": "2026-08", "note": "GP letter"},
        )
    assert response.status_code == 302
    event = FurtherTreatment.objects.get()
    assert (event.kind, event.month, event.recorded_by, event.recorded_on) == (
        "partial_knee_replacement",
        D(2026, 8, 1),
        clinician,
        D(2026, 9, 1),
    )
    page = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).content.decode()
    assert "Partial knee replacement" in page
    assert "knee replacement</span>" in page
    assert "Clinic" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "osteotomy"}, "Give the month (or the day) it happened."),
        ({"kind": "osteotomy", "month": "2026-14"}, "Give the year and month, e.g. 2026-09."),
        ({"kind": "osteotomy", "month": "2027-01"}, "That date is still to come."),
        ({"kind": "hip_replacement", "month": "2026-04"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_nothing_stored(client, clinician, recorded, patient, data, message):
    with travel_to(D(2026, 5, 1)):
        client.force_login(clinician)
        response = client.post(url(patient), {"plan": recorded.plan_id, **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not FurtherTreatment.objects.exists()


def test_auditors_read_but_cannot_record_and_outsiders_get_404(client, auditor, outsider, recorded, patient):
    client.force_login(auditor)
    assert client.get(url(patient)).status_code == 403
    assert (
        client.post(url(patient), {"plan": recorded.plan_id, "kind": "osteotomy", "month": "2026-03"}).status_code
        == 403
    )
    page = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).content.decode()
    assert url(patient) not in page
    client.force_login(outsider)
    assert client.get(url(patient)).status_code == 404
    assert (
        client.post(url(patient), {"plan": recorded.plan_id, "kind": "osteotomy", "month": "2026-03"}).status_code
        == 404
    )
    assert not FurtherTreatment.objects.exists()


def test_a_plan_of_another_patient_cannot_be_chosen(client, clinician, recorded, patient, clinic):
    from tests.factories import PatientFactory, make_injection

    other = make_injection(PatientFactory(clinic=clinic), clinician)
    client.force_login(clinician)
    response = client.post(url(patient), {"plan": other.plan_id, "kind": "osteotomy", "month": "2026-03"})
    assert response.status_code == 400
    assert not FurtherTreatment.objects.exists()

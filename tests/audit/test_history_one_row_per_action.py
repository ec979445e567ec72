"""One action leaves one audit row per record it changes: no record shows twice in its history for one thing a
person (or the system) did. Every write service that keeps history is walked through here."""

import datetime as dt
from collections import Counter
from contextlib import contextmanager

import pytest
import time_machine
from simple_history.signals import post_create_historical_record

from outcomes import services as outcomes_services
from registry import services
from safety import services as flag_services
from safety.choices import FlagRule
from tests.factories import make_injection, questionnaire_data
from tests.safety.ae_support import event_data
from tests.support.journeys import INJECTED_ON, ONE_MONTH_AT, RECORDED_AT

pytestmark = pytest.mark.django_db


@contextmanager
def one_row_each():
    written: Counter = Counter()

    def count(sender, instance, history_instance, **kwargs):
        written[(type(instance).__name__, instance.pk)] += 1

    post_create_historical_record.connect(count)
    try:
        yield written
    finally:
        post_create_historical_record.disconnect(count)
    twice = {key: n for key, n in written.items() if n > 1}
    assert not twice, f"more than one audit row for one action: {twice}"
    assert written, "the action wrote no audit row at all"


def test_every_write_service_writes_one_row_per_record(clinic, clinician, lead):
    from registry.models import Patient

    with one_row_each():
        patient = services.patient_enrol(
            clinic=clinic,
            by=clinician,
            data={
                "full_name": "A Patient",
                "year_of_birth": 1960,
                "consent_on": dt.date(2026, 1, 5),
                "consent_version": "v1",
            },
        )
    with one_row_each():
        services.patient_update(patient=patient, by=clinician, data={"phone": "01234 567890"}, reason="Phoned")
    with time_machine.travel(RECORDED_AT, tick=False):
        with one_row_each() as written:  # plan, injection, three follow-ups
            injection = make_injection(patient, clinician, planned_injections=2)
        assert {kind for kind, _ in written} == {"TreatmentPlan", "Injection", "InjectionComponent", "FollowUp"}
        with one_row_each():
            second = make_injection(
                patient,
                clinician,
                planned_injections=2,
                number_in_plan=2,
                status="planned",
                injected_on=INJECTED_ON + dt.timedelta(days=28),
            )
        with one_row_each() as written:  # the injection and its moved follow-ups
            injection = services.injection_update(
                injection=injection, by=clinician, data={"injected_on": INJECTED_ON}, reason="Date typo"
            )
        assert ("Injection", injection.pk) in written
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        follow_up = injection.plan.follow_ups.get(timepoint="1m")
        with one_row_each():  # the submission and its follow-up
            submission = outcomes_services.questionnaire_submit(
                follow_up=follow_up, data=questionnaire_data(follow_up, **{"SAFETY.swelling": "yes"})
            )
        with one_row_each():
            outcomes_services.submission_amend(
                submission=submission, by=clinician, data=questionnaire_data(follow_up), reason="Misread"
            )
        with one_row_each():
            second = services.injection_mark_given(injection=second, by=clinician, given_on=dt.date(2026, 3, 30))
        with one_row_each():
            flag, _ = flag_services.flag_raise(
                submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={}
            )
        with one_row_each():
            flag_services.flag_start_review(flag=flag, by=lead)
        with one_row_each() as written:  # the flag and the event
            event = flag_services.flag_record_event(
                flag=flag,
                by=lead,
                data=event_data(injection, onset_on=dt.date(2026, 3, 28), outcome_on=None, outcome="recovering"),
            )
        assert {kind for kind, _ in written} == {"Flag", "AdverseEvent"}
        with one_row_each():
            flag_services.adverse_event_correct(
                event=event,
                by=lead,
                data={"injections": [injection, second], "severity": 3},
                reason="Both stages",
                expected_version=1,
            )
        other, _ = flag_services.flag_raise(
            submission=submission, rule=FlagRule.SAFETY_INFECTION_SIGNS, urgent=True, values={}
        )
        with one_row_each():
            flag_services.flag_dismiss(flag=other, by=lead, reason="Answered by mistake")
        with one_row_each():
            services.patient_unsubscribe_email(patient=patient)
        with one_row_each():  # the patient and the follow-ups still to come
            services.patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved")
    assert Patient.objects.get(pk=patient.pk).history.count() == 4

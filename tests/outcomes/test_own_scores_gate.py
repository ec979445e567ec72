"""The one gate for "See how your scores have changed" (outcomes.own_scores.offered_to): the clinic's switch and
its default reminder strategy, or, for a patient allocated in a reminder comparison, the arm."""

import pytest

from outcomes import own_scores
from outcomes.models import ReminderAllocation, ReminderStrategy
from tests.factories import PatientFactory
from tests.outcomes.test_reminder_allocation import enrol, start

pytestmark = pytest.mark.django_db


def test_an_arm_decides_for_its_patients_whatever_the_clinics_switch(clock, clinic, lead):
    start(clinic, lead)  # arm A shows own scores, arm B ("No text") does not
    patients = enrol(clinic, lead, n=6)
    arms = {p.pk: ReminderAllocation.objects.get(patient=p).arm for p in patients}
    assert set(arms.values()) == {"a", "b"}
    for switch in (True, False):
        clinic.show_own_scores = switch
        clinic.save()
        for patient in patients:
            patient.refresh_from_db()
            assert own_scores.offered_to(patient) is (arms[patient.pk] == "a"), (switch, arms[patient.pk])


def test_outside_a_comparison_both_the_switch_and_the_default_strategy_must_allow_it(clinic):
    patient = PatientFactory(clinic=clinic)
    assert own_scores.offered_to(patient) is True  # no strategy: the registry's default shows them
    strategy = ReminderStrategy.objects.create(
        clinic=clinic, name="Quiet", text_reminders=False, show_own_scores=False, is_clinic_default=True
    )
    assert own_scores.offered_to(patient) is False
    strategy.show_own_scores = True
    strategy.save()
    assert own_scores.offered_to(patient) is True
    clinic.show_own_scores = False
    clinic.save()
    patient.refresh_from_db()
    assert own_scores.offered_to(patient) is False

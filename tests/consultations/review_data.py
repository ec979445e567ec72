"""Courses for the fallback review tests: one BMAC injection each (tests.factories.injection_data, 2 Mar 2026),
optionally recorded from a consultation with its own fallback plan, with known scores and follow-up statuses."""

import datetime as dt

import time_machine

from consultations.services import consultation_link_injection
from tests.consultations.factories import make_consultation
from tests.factories import PatientFactory
from tests.outcomes.analysis_data import make_plan

# First injections on 2 Mar 2026 (tests.factories.injection_data): the default review point is 2 Sep 2026.
RECORDED = dt.datetime(2026, 3, 5, 12, tzinfo=dt.UTC)
PAST_REVIEW = dt.datetime(2026, 9, 20, 12, tzinfo=dt.UTC)
RESPONDER_6M = {"pain": 70, "adl": 75, "oks": 35, "pga": 20}
BASELINE = {"pain": 40, "adl": 45, "oks": 20, "pga": 60}


def at(moment):
    return time_machine.travel(moment, tick=False)


def course(clinic, clinician, *, rule=None, months=None, scores=None, statuses=None, due=None, patient=None):
    """A course of one BMAC injection; with ``rule``/``months``, recorded from a consultation with that plan."""
    patient = patient or PatientFactory(clinic=clinic)
    with at(RECORDED):
        consultation = None
        if rule or months:
            consultation = make_consultation(
                patient, clinician, not_improved_rule=rule or "mcid_or_responder", review_after_months=months or 6
            )
        plan = make_plan(clinic, clinician, patient=patient, scores=scores, statuses=statuses, due=due)
        if consultation:
            consultation_link_injection(key=consultation.pk, injection=plan.injections.get(), by=clinician)
    return plan

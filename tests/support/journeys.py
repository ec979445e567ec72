"""A treated knee on a timeline: injected on 2 Mar 2026 (recorded a week before, when the baseline is answered),
with the 1-month questionnaire answered on 30 Mar 2026, the day its window opens (due 2 Apr, opens 3 days before).
Everything goes through the real services: injection_record schedules the follow-ups, questionnaire_submit scores."""

import datetime as dt

import pytest
import time_machine

from outcomes.models import FollowUp, Submission, Timepoint
from outcomes.services import link_create, questionnaire_submit
from tests.factories import PatientFactory, make_injection, questionnaire_data
from tests.support.clock import LONDON

INJECTED_ON = dt.date(2026, 3, 2)  # the factories' injection day
DAY_BEFORE = dt.datetime(2026, 3, 1, 10, 0, tzinfo=LONDON)  # the baseline is open
RECORDED_AT = dt.datetime(2026, 2, 23, 10, 0, tzinfo=LONDON)
BASELINE_AT = dt.datetime(2026, 2, 25, 10, 0, tzinfo=LONDON)
ONE_MONTH_AT = dt.datetime(2026, 3, 30, 10, 0, tzinfo=LONDON)


class Journey:
    def __init__(self, injection):
        self.injection = injection
        self.patient = injection.patient

    def follow_up(self, timepoint: str) -> FollowUp:
        return FollowUp.objects.get(plan=self.injection.plan, timepoint=timepoint)

    def submit(self, timepoint: str, when: dt.datetime, **overrides) -> Submission:
        follow_up = self.follow_up(timepoint)
        with time_machine.travel(when, tick=False):
            return questionnaire_submit(follow_up=follow_up, data=questionnaire_data(follow_up, **overrides))

    def baseline(self, **overrides) -> Submission:
        return self.submit(Timepoint.BASELINE, BASELINE_AT, **overrides)

    def one_month(self, **overrides) -> Submission:
        return self.submit(Timepoint.ONE_MONTH, ONE_MONTH_AT, **overrides)


@pytest.fixture
def journey(clinic, clinician):
    """journey(patient=None, by=None, product="bmac") -> Journey: an injection recorded through registry.services
    (by the clinician of `clinic` unless `by` says who)."""

    def start(*, patient=None, by=None, product: str = "bmac", **overrides) -> Journey:
        if product != "bmac":
            overrides.setdefault("protocol", {})
        with time_machine.travel(RECORDED_AT, tick=False):
            injection = make_injection(
                patient or PatientFactory(clinic=clinic), by or clinician, product=product, **overrides
            )
        return Journey(injection)

    return start


def follow_up(injection, timepoint: str = Timepoint.BASELINE) -> FollowUp:
    return FollowUp.objects.select_related("plan", "clinic", "patient").get(plan=injection.plan, timepoint=timepoint)


def q_url(token: str, suffix: str = "") -> str:
    """The patient's questionnaire address for a link's token."""
    return f"/q/{token}/{suffix}"


# The questionnaire fixtures: with the clock the day before the injection (tests/outcomes and tests/security set
# clock_start to DAY_BEFORE), an injection recorded then, its open baseline and a link to it.
@pytest.fixture
def recorded(clock, patient, clinician):
    """An injection recorded the day before it is given (BMAC, left knee), with its three follow-ups."""
    return make_injection(patient, clinician)


@pytest.fixture
def baseline(recorded):
    return follow_up(recorded)


@pytest.fixture
def token(baseline):
    return link_create(follow_up=baseline)

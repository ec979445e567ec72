"""Shared helpers for the questionnaire tests: a clock set inside the baseline window, complete answers for a
follow-up, and a fresh cache so rate-limit counters never leak from one test into another."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core.cache import cache

from outcomes import questionnaire
from outcomes.models import FollowUp, Timepoint
from outcomes.services import link_create
from tests.factories import make_injection

__all__ = ["_fresh_cache", "baseline", "clock", "recorded", "token"]  # the fixtures, for `import *`

LONDON = zoneinfo.ZoneInfo("Europe/London")
# The factories' injection day is 2 March 2026: the day before it, the baseline is open.
INJECTED_ON = dt.date(2026, 3, 2)
DAY_BEFORE = dt.datetime(2026, 3, 1, 10, 0, tzinfo=LONDON)


def at(day: dt.date | dt.datetime, hour: int = 10):
    """Travel to a clinic-local moment (the clock keeps ticking, so auto_now fields stay ordered)."""
    moment = day if isinstance(day, dt.datetime) else dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON)
    return time_machine.travel(moment, tick=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    """Now is the day before the injection, 10:00 London time."""
    with at(DAY_BEFORE) as traveller:
        yield traveller


@pytest.fixture
def recorded(clock, patient, clinician):
    """An injection recorded the day before it is given (BMAC, left knee), with its three follow-ups."""
    return make_injection(patient, clinician)


def follow_up(injection, timepoint: str = Timepoint.BASELINE) -> FollowUp:
    return FollowUp.objects.select_related("plan", "clinic", "patient").get(plan=injection.plan, timepoint=timepoint)


@pytest.fixture
def baseline(recorded):
    return follow_up(recorded)


@pytest.fixture
def token(baseline):
    return link_create(follow_up=baseline)


def answers_for(fu: FollowUp, **overrides) -> dict[str, str]:
    """A complete, valid set of posted values for the follow-up's questionnaire."""
    data = {}
    for instrument in questionnaire.instruments_for(fu):
        for item in instrument.items_for_product(questionnaire.product_of(fu)):
            name = f"{instrument.code}.{item.code}"
            if item.type == "choice":
                data[name] = str(item.options[1].score)
            elif item.type == "slider":
                data[name] = "40"
            elif item.type == "yesno":
                data[name] = "no"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def q_url(token: str, suffix: str = "") -> str:
    return f"/q/{token}/{suffix}"

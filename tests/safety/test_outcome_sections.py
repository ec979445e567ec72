"""Safety's data on outcomes' pages goes through safety's selectors, handed to outcomes at start-up (outcomes
cannot import safety); without them the sections say so instead of guessing."""

import pytest

from outcomes.analysis import adverse_events, trajectory
from outcomes.analysis.trajectory import patient_trajectory
from safety.choices import FlagRule
from safety.outcome_sections import adverse_events_by_product, trajectory_flags
from safety.services import flag_raise

pytestmark = pytest.mark.django_db


def test_safety_plugs_its_selectors_into_outcomes_at_start_up():
    assert adverse_events._count_events is adverse_events_by_product
    assert trajectory._read_flags is trajectory_flags


def test_the_trajectory_shows_the_patients_flags_on_its_knee(journey):
    submission = journey().one_month(**{"SAFETY.swelling": "yes"})
    flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=True, values={})
    data = patient_trajectory(submission.follow_up.patient)
    assert data["flags_available"] is True
    [knee] = data["knees"]
    [flag] = knee["flags"]
    assert flag["knee"] == knee["code"]
    assert flag["urgent"] is True
    assert flag["status"] == "Open"


def test_without_a_provider_the_sections_say_they_are_not_recorded(journey, monkeypatch):
    monkeypatch.setattr(adverse_events, "_count_events", None)
    monkeypatch.setattr(trajectory, "_read_flags", None)
    submission = journey().one_month(**{"SAFETY.swelling": "yes"})
    flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=True, values={})
    data = patient_trajectory(submission.follow_up.patient)
    assert data["flags_available"] is False
    assert data["knees"][0]["flags"] == []
    section = adverse_events.per_100_injections([submission.follow_up.plan_id])
    assert section == {"available": False, "note": "Adverse events are not recorded in this registry yet.", "rows": []}

"""The early safety checks' schedule (issue 15): day 2-3 and day 10-14 windows from the injection, configurable,
switched off by a setting, never asked when recorded too late, moved with the injection, and open, then missed,
as the days pass (time travel, never sleep)."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.schedule import safety_check_days, safety_check_windows
from outcomes.services import follow_ups_close_overdue, follow_ups_open_due
from registry.services import injection_update
from tests.factories import make_injection
from tests.support.clock import travel_to

D = dt.date
CHECKS = (Timepoint.DAY_3, Timepoint.DAY_12)


def checks(injection):
    return {
        fu.timepoint: (fu.opens_on, fu.due_on, fu.closes_on, fu.status)
        for fu in FollowUp.objects.filter(plan=injection.plan, timepoint__in=CHECKS)
    }


def test_default_windows_open_on_day_2_and_day_10(recorded):
    assert checks(recorded) == {
        Timepoint.DAY_3: (D(2026, 3, 4), D(2026, 3, 4), D(2026, 3, 6), FollowUpStatus.SCHEDULED),
        Timepoint.DAY_12: (D(2026, 3, 12), D(2026, 3, 12), D(2026, 3, 17), FollowUpStatus.SCHEDULED),
    }
    assert all(fu.is_safety_check for fu in FollowUp.objects.filter(plan=recorded.plan, timepoint__in=CHECKS))
    assert not FollowUp.objects.get(plan=recorded.plan, timepoint=Timepoint.ONE_MONTH).is_safety_check


def test_windows_follow_the_setting(clock, settings, patient, clinician):
    settings.SAFETY_CHECK_WINDOWS = {"d3": [1, 2, 3], "d12": [12, 13, 14]}
    injection = make_injection(patient, clinician)
    assert checks(injection) == {
        Timepoint.DAY_3: (D(2026, 3, 3), D(2026, 3, 4), D(2026, 3, 5), FollowUpStatus.SCHEDULED),
        Timepoint.DAY_12: (D(2026, 3, 14), D(2026, 3, 15), D(2026, 3, 16), FollowUpStatus.SCHEDULED),
    }


def test_a_check_left_out_of_the_setting_is_not_asked(clock, settings, patient, clinician):
    settings.SAFETY_CHECK_WINDOWS = {"d12": [10, 10, 15]}
    injection = make_injection(patient, clinician)
    assert set(checks(injection)) == {Timepoint.DAY_12}


def test_switched_off_schedules_none_and_keeps_the_rest(clock, settings, patient, clinician):
    settings.SAFETY_CHECKS_ENABLED = False
    injection = make_injection(patient, clinician)
    assert checks(injection) == {}
    assert set(FollowUp.objects.filter(plan=injection.plan).values_list("timepoint", flat=True)) == {
        Timepoint.BASELINE,
        Timepoint.ONE_MONTH,
        Timepoint.SIX_MONTHS,
        Timepoint.TWELVE_MONTHS,
        Timepoint.TWENTY_FOUR_MONTHS,  # the factory's BMAC: followed to 24 months
    }


def test_recorded_after_a_check_closed_it_is_not_collected_never_missed(patient, clinician):
    with travel_to(D(2026, 3, 9)):  # a week after the 2 March injection: the day 2-3 window has passed
        injection = make_injection(patient, clinician)
    assert checks(injection)[Timepoint.DAY_3][3] == FollowUpStatus.NOT_COLLECTED
    assert checks(injection)[Timepoint.DAY_12][3] == FollowUpStatus.SCHEDULED


def test_recorded_inside_a_window_opens_it_at_once(patient, clinician):
    with travel_to(D(2026, 3, 5)):  # day 3
        injection = make_injection(patient, clinician)
    assert checks(injection)[Timepoint.DAY_3][3] == FollowUpStatus.OPEN


def test_checks_open_and_close_with_the_days(recorded):
    day_3 = FollowUp.objects.get(plan=recorded.plan, timepoint=Timepoint.DAY_3)
    with travel_to(D(2026, 3, 3)):
        assert day_3.pk not in follow_ups_open_due()
    with travel_to(D(2026, 3, 4)):
        assert day_3.pk in follow_ups_open_due()
    with travel_to(D(2026, 3, 6)):
        assert day_3.pk not in follow_ups_close_overdue()  # the last day still counts
    with travel_to(D(2026, 3, 7)):
        assert day_3.pk in follow_ups_close_overdue()
    day_3.refresh_from_db()
    assert day_3.status == FollowUpStatus.MISSED


def test_moving_the_injection_moves_the_checks(recorded, clinician):
    injection_update(injection=recorded, by=clinician, data={"injected_on": D(2026, 3, 9)}, reason="Date corrected")
    assert checks(recorded)[Timepoint.DAY_3][:3] == (D(2026, 3, 11), D(2026, 3, 11), D(2026, 3, 13))
    assert checks(recorded)[Timepoint.DAY_12][:3] == (D(2026, 3, 19), D(2026, 3, 19), D(2026, 3, 24))


def test_a_check_scheduled_before_the_setting_changed_keeps_its_offsets_when_moved(recorded, clinician, settings):
    settings.SAFETY_CHECKS_ENABLED = False
    injection_update(injection=recorded, by=clinician, data={"injected_on": D(2026, 3, 4)}, reason="Date corrected")
    assert checks(recorded)[Timepoint.DAY_3][:3] == (D(2026, 3, 6), D(2026, 3, 6), D(2026, 3, 8))


def test_windows_are_pure_date_arithmetic():
    days = {"d3": (2, 2, 4)}
    (window,) = safety_check_windows(injected_on=D(2026, 12, 30), recorded_on=D(2026, 12, 30), days=days)
    assert (window.opens_on, window.due_on, window.closes_on, window.collectable) == (
        D(2027, 1, 1),
        D(2027, 1, 1),
        D(2027, 1, 3),
        True,
    )
    (late,) = safety_check_windows(injected_on=D(2026, 12, 30), recorded_on=D(2027, 1, 4), days=days)
    assert late.collectable is False


@pytest.mark.parametrize(
    "value",
    [
        [2, 2, 4],
        {"d5": [2, 2, 4]},
        {"d3": [4, 2, 2]},
        {"d3": [-1, 2, 4]},
        {"d3": [2, 2]},
        {"d3": ["2", 2, 4]},
        {"d3": [True, 2, 4]},
    ],
)
def test_malformed_windows_fail_loudly(settings, value):
    settings.SAFETY_CHECK_WINDOWS = value
    with pytest.raises(ImproperlyConfigured, match="SAFETY_CHECK_WINDOWS"):
        safety_check_days()

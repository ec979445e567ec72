"""The baseline rule (outcomes.schedule.baseline_window): a baseline may be answered up to
BASELINE_CLOSES_DAYS_AFTER_INJECTION days after the injection (default 3, 0 allowed); an injection recorded later
than that has a baseline "not collected: recorded after the injection", which is never chased, never missed, and
counted apart in the statistics (not in the completion denominator). Time travel, never sleep."""

import datetime as dt

import pytest
from django.core.cache import cache

from notifications.models import OutboundMessage
from notifications.selectors import chase_list_for, missed_for
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.services import follow_ups_close_overdue, follow_ups_open_due
from registry.services import injection_update
from tests.factories import PatientFactory, make_injection
from tests.support.clock import travel_to

pytestmark = pytest.mark.django_db

INJECTED = dt.date(2026, 3, 2)


def baseline_of(injection) -> FollowUp:
    return FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)


def recorded_on(day, patient, clinician, **kwargs):
    with travel_to(day):
        return make_injection(patient, clinician, injected_on=INJECTED, **kwargs)


def swept_on(day) -> None:
    with travel_to(day, hour=0):
        follow_ups_open_due()
        follow_ups_close_overdue()


def test_recorded_on_the_day_the_baseline_stays_open_three_more_days(patient, clinician):
    baseline = baseline_of(recorded_on(INJECTED, patient, clinician))
    assert (baseline.opens_on, baseline.due_on, baseline.closes_on) == (INJECTED, INJECTED, dt.date(2026, 3, 5))
    swept_on(dt.date(2026, 3, 5))
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.OPEN
    swept_on(dt.date(2026, 3, 6))
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.MISSED


@pytest.mark.parametrize(
    ("days_after", "status"), [(1, "open"), (3, "open"), (4, "not_collected"), (40, "not_collected")]
)
def test_recorded_after_the_injection(patient, clinician, days_after, status):
    baseline = baseline_of(recorded_on(INJECTED + dt.timedelta(days=days_after), patient, clinician))
    assert baseline.status == status
    assert baseline.injected_on == INJECTED


def test_the_number_of_days_is_a_setting_and_zero_is_allowed(settings, patient, clinician):
    settings.BASELINE_CLOSES_DAYS_AFTER_INJECTION = 0
    on_the_day = baseline_of(recorded_on(INJECTED, patient, clinician))
    assert (on_the_day.closes_on, on_the_day.status) == (INJECTED, FollowUpStatus.OPEN)
    next_day = baseline_of(
        recorded_on(INJECTED + dt.timedelta(days=1), PatientFactory(clinic=patient.clinic), clinician)
    )
    assert next_day.status == FollowUpStatus.NOT_COLLECTED
    settings.BASELINE_CLOSES_DAYS_AFTER_INJECTION = 7
    week = baseline_of(recorded_on(INJECTED + dt.timedelta(days=7), PatientFactory(clinic=patient.clinic), clinician))
    assert (week.closes_on, week.status) == (dt.date(2026, 3, 9), FollowUpStatus.OPEN)


def test_a_negative_number_of_days_stops_start_up(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import config.settings

    monkeypatch.setenv("BASELINE_CLOSES_DAYS_AFTER_INJECTION", "-1")
    with pytest.raises(ImproperlyConfigured, match="BASELINE_CLOSES_DAYS_AFTER_INJECTION"):
        importlib.reload(config.settings)
    monkeypatch.delenv("BASELINE_CLOSES_DAYS_AFTER_INJECTION")
    importlib.reload(config.settings)


def test_not_collected_is_never_emailed_chased_or_missed(patient, clinician):
    injection = recorded_on(INJECTED + dt.timedelta(days=10), patient, clinician)
    baseline = baseline_of(injection)
    assert baseline.status == FollowUpStatus.NOT_COLLECTED
    assert not OutboundMessage.objects.filter(follow_up=baseline).exists()
    swept_on(dt.date(2026, 3, 20))
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.NOT_COLLECTED  # the sweep does not turn it into "missed"
    assert baseline not in missed_for(clinician)
    assert baseline not in chase_list_for(clinician)
    assert baseline.get_status_display() == "Not collected: recorded after the injection"


def test_moving_the_injection_date_can_make_a_baseline_collectable_again(patient, clinician):
    injection = recorded_on(INJECTED + dt.timedelta(days=10), patient, clinician)
    with travel_to(INJECTED + dt.timedelta(days=10)):
        injection_update(
            injection=injection, by=clinician, data={"injected_on": dt.date(2026, 3, 11)}, reason="Wrong date"
        )
        assert baseline_of(injection).status == FollowUpStatus.OPEN
        injection_update(injection=injection, by=clinician, data={"injected_on": INJECTED}, reason="It was right")
        assert baseline_of(injection).status == FollowUpStatus.NOT_COLLECTED


def test_the_patient_page_shows_it_as_not_collected(client, patient, clinician):
    recorded_on(INJECTED + dt.timedelta(days=10), patient, clinician)
    client.force_login(clinician)
    html = client.get(f"/patients/{patient.registry_number}/").content.decode()
    assert "Not collected: recorded after the injection" in html


def test_statistics_count_it_apart_and_leave_it_out_of_the_denominator(client, clinic, clinician):
    cache.clear()
    late = recorded_on(INJECTED + dt.timedelta(days=10), PatientFactory(clinic=clinic), clinician)
    missed = recorded_on(INJECTED, PatientFactory(clinic=clinic), clinician)
    swept_on(dt.date(2026, 3, 20))
    assert baseline_of(late).status == FollowUpStatus.NOT_COLLECTED
    assert baseline_of(missed).status == FollowUpStatus.MISSED
    with travel_to(dt.date(2026, 3, 20)):
        client.force_login(clinician)
        response = client.get("/dashboard/outcomes/")
    baseline = response.context["summary"]["completion"][0]
    assert (baseline["plans"], baseline["missed"], baseline["not_collected"], baseline["due"]) == (2, 1, 1, 1)
    html = response.content.decode()
    assert "Not collected" in html
    assert "counted apart, never as missed" in html

"""The attention page's "Follow-ups missed this week" goes by when each follow-up closed (its window's last day),
not by when its status was written: the demo (and any late sweep or import) stamps old follow-ups as missed now."""

import datetime as dt

import pytest

from notifications.selectors import missed_for
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.services import follow_ups_close_overdue
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at

pytestmark = pytest.mark.django_db
URL = "/attention/"


def missed_section(html: str) -> str:
    return html.split('id="missed"', 1)[1].split("</section>", 1)[0]


@pytest.fixture
def closed_long_ago_and_lately(clock, clinic, clinician, settings):
    """Two baselines: one closed in March, one closed 2 days before "today" (the clock moves to 20 Sep 2026).
    The sweep marks both missed today, as a sweep that did not run for months (or the demo) would."""
    settings.SAFETY_CHECKS_ENABLED = False  # baselines only: a day 2-3 check would close in the same week
    old = make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 2))
    clock.move_to(at(2026, 9, 15))
    recent = make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 9, 15))
    clock.move_to(at(2026, 9, 20))
    follow_ups_close_overdue()
    old_baseline, recent_baseline = (
        FollowUp.objects.get(plan=i.plan, timepoint=Timepoint.BASELINE) for i in (old, recent)
    )
    assert {old_baseline.status, recent_baseline.status} == {FollowUpStatus.MISSED}
    assert old_baseline.status_changed_at.date() == dt.date(2026, 9, 20)  # stamped today, closed in March
    return old_baseline, recent_baseline


def test_only_follow_ups_that_closed_this_week_are_listed(client, clinician, closed_long_ago_and_lately):
    old, recent = closed_long_ago_and_lately
    client.force_login(clinician)
    section = missed_section(client.get(URL).content.decode())
    assert recent.patient.registry_number in section
    assert old.patient.registry_number not in section
    assert "18 Sep 2026" in section  # the day it closed (injected 15 Sep, baseline open 3 more days)


def test_the_selector_counts_by_closing_day(clinician, closed_long_ago_and_lately):
    old, recent = closed_long_ago_and_lately
    assert list(missed_for(clinician, closed_since=dt.date(2026, 9, 13))) == [recent]
    everything = list(missed_for(clinician))
    assert everything[0] == recent  # most recently closed first
    assert everything[-1] == old


def test_a_week_ago_is_the_edge(client, clock, clinician, closed_long_ago_and_lately):
    _, recent = closed_long_ago_and_lately
    clock.move_to(at(2026, 9, 25))  # closed 18 Sep: exactly 7 days ago, still this week
    client.force_login(clinician)
    assert recent.patient.registry_number in missed_section(client.get(URL).content.decode())
    clock.move_to(at(2026, 9, 26))
    client.force_login(clinician)  # sessions do not outlive a jump of a day
    assert recent.patient.registry_number not in missed_section(client.get(URL).content.decode())

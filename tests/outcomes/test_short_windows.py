"""A questionnaire window that would be shorter than a day when its invitation goes is never emailed: a link that
dies tonight only frustrates. The follow-up stays open for the clinic to enter answers (tablet or phone)."""

import datetime as dt

import pytest

from notifications.models import MessageKind, OutboundMessage
from notifications.services.schedule import message_plan
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from tests.factories import make_injection
from tests.support.clock import travel_to

pytestmark = pytest.mark.django_db

INJECTED = dt.date(2026, 3, 2)


def baseline_recorded_on(day, patient, clinician) -> FollowUp:
    with travel_to(day):
        injection = make_injection(patient, clinician, injected_on=INJECTED)
    return FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)


def invitations(follow_up) -> int:
    return OutboundMessage.objects.filter(follow_up=follow_up, kind=MessageKind.INVITATION).count()


def test_no_email_when_the_window_closes_the_day_it_would_go(settings, patient, clinician):
    settings.BASELINE_CLOSES_DAYS_AFTER_INJECTION = 0
    baseline = baseline_recorded_on(INJECTED, patient, clinician)
    assert baseline.status == FollowUpStatus.OPEN  # still answerable at the clinic today
    assert invitations(baseline) == 0


def test_no_email_on_the_last_day_of_the_default_rule(patient, clinician):
    baseline = baseline_recorded_on(INJECTED + dt.timedelta(days=3), patient, clinician)
    assert (baseline.status, baseline.closes_on) == (FollowUpStatus.OPEN, INJECTED + dt.timedelta(days=3))
    assert invitations(baseline) == 0


def test_a_window_with_a_day_or_more_left_is_emailed(patient, clinician):
    baseline = baseline_recorded_on(INJECTED + dt.timedelta(days=2), patient, clinician)
    assert invitations(baseline) == 1


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 3, 1), [MessageKind.INVITATION]),
        (dt.date(2026, 3, 4), [MessageKind.INVITATION]),
        (dt.date(2026, 3, 5), []),  # closes today
        (dt.date(2026, 3, 6), []),  # closed
    ],
)
def test_the_plan_drops_windows_closing_today(today, expected):
    plan = message_plan(opens_on=dt.date(2026, 3, 1), closes_on=dt.date(2026, 3, 5), today=today)
    assert [kind for kind, _ in plan if kind == MessageKind.INVITATION] == expected

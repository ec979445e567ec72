"""The 12- and 24-month follow-ups go through the outbox by the same rules as the 6-month one: invited when the
window opens (in sending hours), reminded on schedule, silenced by the answers, missed after closing (time travel)."""

import datetime as dt

import pytest

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUpStatus, Timepoint
from tests.factories import make_injection
from tests.support.answers import complete
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db


def kinds_sent(follow_up):
    return list(
        OutboundMessage.objects.filter(follow_up=follow_up, status=MessageStatus.SENT)
        .order_by("sent_at", "id")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def plan(clock, patient, clinician):
    return make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2)).plan  # BMAC: to 24 months


def test_twelve_months_is_invited_when_its_window_opens_and_reminded_until_answered(clock, plan):
    twelve = plan.follow_ups.get(timepoint=Timepoint.TWELVE_MONTHS)
    assert (twelve.opens_on, twelve.due_on, twelve.closes_on) == (
        dt.date(2027, 2, 27),
        dt.date(2027, 3, 2),
        dt.date(2027, 3, 23),
    )
    clock.move_to(at(2027, 2, 26, 12))
    sweep()
    assert not OutboundMessage.objects.filter(follow_up=twelve).exists()  # not open yet

    clock.move_to(at(2027, 2, 27, 0, 5))  # opens at midnight; nobody is emailed at night
    sweep()
    twelve.refresh_from_db()
    assert twelve.status == FollowUpStatus.OPEN
    invitation = OutboundMessage.objects.get(follow_up=twelve, kind=MessageKind.INVITATION)
    assert invitation.scheduled_for == at(2027, 2, 27, 9, 0)

    clock.move_to(at(2027, 2, 27, 9, 1))
    sweep()
    assert kinds_sent(twelve) == [MessageKind.INVITATION]
    clock.move_to(at(2027, 3, 2, 9, 30))  # opened + 3 days
    sweep()
    assert kinds_sent(twelve) == [MessageKind.INVITATION, MessageKind.REMINDER_1]

    complete(twelve)
    clock.move_to(at(2027, 3, 8, 11))  # reminder 2 would be due: the answers cancelled it
    sweep()
    assert kinds_sent(twelve) == [MessageKind.INVITATION, MessageKind.REMINDER_1]
    assert not OutboundMessage.objects.filter(follow_up=twelve, status=MessageStatus.PENDING).exists()


def test_twenty_four_months_unanswered_is_missed_after_its_window(clock, plan):
    last = plan.follow_ups.get(timepoint=Timepoint.TWENTY_FOUR_MONTHS)
    assert last.due_on == dt.date(2028, 3, 2)
    clock.move_to(at(2028, 2, 28, 9, 30))
    sweep()
    assert kinds_sent(last) == [MessageKind.INVITATION]
    clock.move_to(at(2028, 3, 24, 0, 5))  # closed on the 23rd
    sweep()
    last.refresh_from_db()
    assert last.status == FollowUpStatus.MISSED
    assert not OutboundMessage.objects.filter(follow_up=last, status=MessageStatus.PENDING).exists()


def test_a_prp_plan_gets_no_24_month_email(clock, patient, clinician):
    prp = {"leukocytes": "poor", "spins": 2, "activation": "none"}
    plan = make_injection(patient, clinician, product="prp", protocol=prp, injected_on=dt.date(2026, 3, 2)).plan
    assert not plan.follow_ups.filter(timepoint=Timepoint.TWENTY_FOUR_MONTHS).exists()
    clock.move_to(at(2028, 3, 2, 10))
    sweep()
    assert not OutboundMessage.objects.filter(follow_up__plan=plan, follow_up__timepoint="24m").exists()

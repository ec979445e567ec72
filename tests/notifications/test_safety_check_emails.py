"""The early safety checks' emails (issue 15): through the same outbox, links and sending hours; one invitation and
at most one reminder, inside the short window, never after it closes; an email of their own that says it is a
2-minute safety check; and the 999 advice by email after clot or allergy answers."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from notifications.services import messages_send
from notifications.services.schedule import message_plan
from outcomes.models import FollowUpStatus, QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import hash_token
from outcomes.services import questionnaire_submit
from tests.factories import make_injection
from tests.support.answers import answers_for
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db

D = dt.date
INV, R1 = MessageKind.INVITATION, MessageKind.REMINDER_1


@pytest.fixture
def day_3(clock, patient, clinician):
    """Injected (and recorded) on Monday 2 March: the day 2-3 check opens on the 4th and closes on the 6th."""
    injection = make_injection(patient, clinician, injected_on=D(2026, 3, 2))
    return injection.plan.follow_ups.get(timepoint=Timepoint.DAY_3)


def rows(follow_up, status=None):
    qs = OutboundMessage.objects.filter(follow_up=follow_up)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("scheduled_for", "id").values_list("kind", flat=True))


def safety_check_emails():
    return [m for m in mail.outbox if "safety check" in m.subject]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2026, 3, 3), [(INV, D(2026, 3, 4)), (R1, D(2026, 3, 5))]),
        (D(2026, 3, 4), [(INV, D(2026, 3, 4)), (R1, D(2026, 3, 5))]),
        (D(2026, 3, 5), [(INV, D(2026, 3, 5))]),  # invited late: the reminder would not come after it
        (D(2026, 3, 6), []),  # closing today: a link that dies tonight is not worth an email
    ],
)
def test_invitation_and_one_reminder_inside_the_window(today, expected):
    plan = message_plan(opens_on=D(2026, 3, 4), closes_on=D(2026, 3, 6), today=today, safety_check=True)
    assert plan == expected


def test_a_long_window_still_gets_one_reminder_only():
    plan = message_plan(opens_on=D(2026, 3, 12), closes_on=D(2026, 4, 30), today=D(2026, 3, 12), safety_check=True)
    assert [kind for kind, _ in plan] == [INV, R1]


def test_no_reminder_planned_after_the_window_closes(settings):
    settings.SAFETY_CHECK_REMINDER_DAYS = 3  # 4 March + 3 = the 7th, after the 6 March close
    assert message_plan(opens_on=D(2026, 3, 4), closes_on=D(2026, 3, 6), today=D(2026, 3, 4), safety_check=True) == [
        (INV, D(2026, 3, 4))
    ]
    settings.SAFETY_CHECK_REMINDER_DAYS = 0  # no reminder for the safety checks...
    assert message_plan(opens_on=D(2026, 3, 4), closes_on=D(2026, 3, 6), today=D(2026, 3, 4), safety_check=True) == [
        (INV, D(2026, 3, 4))
    ]
    # ...while the ordinary follow-ups keep theirs.
    ordinary = message_plan(opens_on=D(2026, 3, 4), closes_on=D(2026, 3, 30), today=D(2026, 3, 4))
    assert R1 in [kind for kind, _ in ordinary]


def test_invited_once_reminded_once_and_never_after_close(clock, day_3, patient):
    clock.move_to(at(2026, 3, 4, 0, 5))  # open at midnight; nobody is emailed at night
    sweep()
    assert rows(day_3) == [INV, R1]
    assert rows(day_3, MessageStatus.SENT) == []
    assert OutboundMessage.objects.get(follow_up=day_3, kind=INV).scheduled_for == at(2026, 3, 4, 9, 0)

    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    sweep()  # a duplicate beat tick
    assert rows(day_3, MessageStatus.SENT) == [INV]
    clock.move_to(at(2026, 3, 5, 9, 30))
    sweep()
    assert rows(day_3, MessageStatus.SENT) == [INV, R1]
    for moment in (at(2026, 3, 6, 12), at(2026, 3, 7, 10), at(2026, 3, 9, 10)):
        clock.move_to(moment)
        sweep()
    assert rows(day_3, MessageStatus.SENT) == [INV, R1]
    assert rows(day_3) == [INV, R1]
    day_3.refresh_from_db()
    assert day_3.status == FollowUpStatus.MISSED
    invitation, reminder = safety_check_emails()
    assert all(email.to == [patient.email] for email in (invitation, reminder))


def test_a_reminder_held_past_the_close_is_cancelled_not_sent(clock, settings, day_3):
    settings.SAFETY_CHECK_REMINDER_DAYS = 2  # due on the closing day, 6 March
    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    clock.move_to(at(2026, 3, 7, 9, 30))  # the sweep did not run on the 6th
    sweep()
    reminder = OutboundMessage.objects.get(follow_up=day_3, kind=R1)
    assert reminder.status == MessageStatus.CANCELLED
    assert rows(day_3, MessageStatus.SENT) == [INV]


def test_answered_after_the_invitation_means_no_reminder(clock, day_3):
    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    clock.move_to(at(2026, 3, 4, 18))
    day_3.refresh_from_db()
    questionnaire_submit(follow_up=day_3, data=answers_for(day_3))
    clock.move_to(at(2026, 3, 5, 9, 30))
    sweep()
    assert rows(day_3, MessageStatus.SENT) == [INV]


def test_the_email_says_it_is_a_two_minute_safety_check_with_a_link_to_it(clock, day_3, patient, clinic):
    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    (email,) = safety_check_emails()
    assert email.subject == f"{clinic.name}: a 2-minute safety check about your left knee"
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert "about 2 minutes" in body
        assert "10 minutes" not in body
        assert day_3.patient_label in body
        assert "999" in body
    token = re.search(r"/q/([\w-]+)/", email.body).group(1)
    link = QuestionnaireLink.objects.get(token_hash=hash_token(token))
    assert link.follow_up == day_3
    # The link dies with the window (end of its last day, clinic time).
    assert link.expires_at == at(2026, 3, 7, 0, 0)

    clock.move_to(at(2026, 3, 5, 9, 30))
    sweep()
    reminder = safety_check_emails()[-1]
    assert reminder.subject == f"Reminder from {clinic.name}: your 2-minute safety check about your left knee"


def test_both_knees_one_safety_check_email_naming_each_knee(clock, patient, clinician):
    for knee in ("left", "right"):
        make_injection(patient, clinician, injected_on=D(2026, 3, 2), knee=knee)
    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    (email,) = safety_check_emails()
    assert "both your knees" in email.subject
    assert "your left knee, injected on 2 March 2026" in email.body
    assert "your right knee, injected on 2 March 2026" in email.body
    assert len(re.findall(r"/q/([\w-]+)/", email.body)) == 2


def test_a_safety_check_never_shares_an_email_with_a_questionnaire(clock, patient, clinician):
    # Left knee injected 2 March (day 2-3 check opens the 4th); right knee injected and recorded on the 4th
    # (baseline open at once): two emails, each with its own words.
    make_injection(patient, clinician, injected_on=D(2026, 3, 2), knee="left")
    clock.move_to(at(2026, 3, 4, 8))
    make_injection(patient, clinician, injected_on=D(2026, 3, 4), knee="right")
    clock.move_to(at(2026, 3, 4, 9, 1))
    sweep()
    subjects = sorted(email.subject for email in mail.outbox)
    assert len(subjects) == 2
    assert sum("2-minute safety check" in s for s in subjects) == 1


def test_clot_or_allergy_answers_get_the_999_advice_by_email(clock, day_3):
    clock.move_to(at(2026, 3, 4, 21))  # late evening: the advice goes at once all the same
    day_3.refresh_from_db()
    questionnaire_submit(follow_up=day_3, data=answers_for(day_3, **{"SAFETY_EARLY.face_swelling": "yes"}))
    advice = OutboundMessage.objects.get(kind=MessageKind.SAFETY_ADVICE)
    assert advice.context["emergency"] is True
    with time_machine.travel(at(2026, 3, 4, 21, 1), tick=False):
        assert messages_send([advice.pk]).sent == 1
    email = [m for m in mail.outbox if "today" in m.subject][-1]
    for body in (email.body, email.alternatives[0][0]):
        assert "999" in body
        assert "face_swelling" not in body  # no answer in an email


def test_other_urgent_answers_get_the_clinic_advice_without_999(clock, day_3):
    clock.move_to(at(2026, 3, 4, 21))
    day_3.refresh_from_db()
    questionnaire_submit(follow_up=day_3, data=answers_for(day_3, **{"SAFETY_EARLY.puncture_site": "yes"}))
    advice = OutboundMessage.objects.get(kind=MessageKind.SAFETY_ADVICE)
    assert advice.context["emergency"] is False
    with time_machine.travel(at(2026, 3, 4, 21, 1), tick=False):
        messages_send([advice.pk])
    email = [m for m in mail.outbox if "today" in m.subject][-1]
    assert "contact the clinic today" in email.body
    assert "999" not in email.body

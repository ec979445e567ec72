"""A patient treated in both knees at one visit gets one email listing both questionnaires, each labelled with its
knee and injection day and carrying its own link; every row records the same sent state and Message-ID; a row
that fails its own check is left out alone (issue 12)."""

import datetime as dt
import re

import pytest
from django.core import mail

from notifications.models import AttemptOutcome, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUpStatus, QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import hash_token
from outcomes.services import follow_ups_cancel_for_patient
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db

LEFT = "your left knee, injected on 2 March 2026"
RIGHT = "your right knee, injected on 2 March 2026"


@pytest.fixture
def both_knees(clock, clinic, clinician):
    """Recorded a few minutes apart at one visit, as a clinic does."""
    patient = PatientFactory(clinic=clinic, email="grace@example.org")
    left = make_injection(patient, clinician, knee="left")
    clock.shift(dt.timedelta(minutes=4))
    right = make_injection(patient, clinician, knee="right")
    baselines = [i.plan.follow_ups.get(timepoint=Timepoint.BASELINE) for i in (left, right)]
    return patient, baselines


def invitations(patient):
    return list(OutboundMessage.objects.filter(patient=patient, kind=MessageKind.INVITATION).order_by("id"))


def test_invitations_due_minutes_apart_are_scheduled_together(both_knees):
    patient, _ = both_knees
    first, second = invitations(patient)
    assert first.dedupe_key != second.dedupe_key  # still one row per follow-up and kind
    assert second.scheduled_for == first.scheduled_for


def test_not_gathered_when_the_setting_is_zero(settings, clock, clinic, clinician):
    settings.NOTIFICATIONS_GATHER_MINUTES = 0
    patient = PatientFactory(clinic=clinic)
    make_injection(patient, clinician, knee="left")
    clock.shift(dt.timedelta(minutes=4))
    make_injection(patient, clinician, knee="right")
    first, second = invitations(patient)
    assert second.scheduled_for - first.scheduled_for == dt.timedelta(minutes=4)


def test_one_email_lists_both_questionnaires_each_with_its_own_link(both_knees):
    patient, baselines = both_knees
    report = sweep()
    assert report.send.sent == 2

    (email,) = mail.outbox
    assert email.to == ["grace@example.org"]
    assert email.subject == "North Knee Clinic: a short questionnaire about both your knees"
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert body.count(LEFT) == 1
        assert body.count(RIGHT) == 1
    # Each label is followed by its own link, and each link opens its own knee's questionnaire.
    for label, baseline in zip((LEFT, RIGHT), baselines, strict=True):
        after = email.body.split(label, 1)[1]
        token = re.search(r"/q/([\w-]+)/", after).group(1)
        assert QuestionnaireLink.objects.get(token_hash=hash_token(token)).follow_up == baseline

    rows = invitations(patient)
    assert {row.status for row in rows} == {MessageStatus.SENT}
    assert len({row.sent_at for row in rows}) == 1
    assert len({row.link_id for row in rows}) == 2
    (message_id,) = {row.email_message_id for row in rows}
    assert message_id
    assert email.extra_headers["Message-ID"] == message_id
    assert email.message()["Message-ID"] == message_id
    assert all(row.delivery_attempts.get().outcome == AttemptOutcome.SENT for row in rows)


def test_a_row_that_fails_its_check_is_cancelled_alone(both_knees, clinician):
    patient, (_, right) = both_knees
    # The right knee's baseline was answered on the clinic's tablet before the email went.
    type(right).objects.filter(pk=right.pk).update(status=FollowUpStatus.COMPLETED)
    sweep()

    (email,) = mail.outbox
    assert LEFT in email.body
    assert RIGHT not in email.body
    assert email.subject == "North Knee Clinic: a short questionnaire about your left knee"
    sent, cancelled = invitations(patient)
    assert sent.status == MessageStatus.SENT
    assert sent.email_message_id
    assert cancelled.status == MessageStatus.CANCELLED
    assert cancelled.cancelled_reason == "Questionnaire already completed"
    assert cancelled.email_message_id == ""
    assert QuestionnaireLink.objects.filter(follow_up=right).count() == 0


def test_nothing_is_sent_when_every_row_fails_its_check(both_knees):
    patient, _ = both_knees
    follow_ups_cancel_for_patient(patient=patient, reason="Moved away")
    OutboundMessage.objects.filter(patient=patient).update(status=MessageStatus.PENDING)  # as if claimed first
    sweep()
    assert mail.outbox == []
    assert {row.status for row in invitations(patient)} == {MessageStatus.CANCELLED}


def test_a_failed_email_fails_every_row_it_carried_and_keeps_no_link(both_knees, failing_mail):
    patient, _ = both_knees
    sweep()
    rows = invitations(patient)
    assert {row.status for row in rows} == {MessageStatus.PENDING}
    assert {row.attempts for row in rows} == {1}
    assert len({row.scheduled_for for row in rows}) == 1  # retried together, so still one email
    assert QuestionnaireLink.objects.count() == 0


def test_different_patients_are_never_gathered(clock, clinic, clinician):
    for email in ("a@example.org", "b@example.org"):
        make_injection(PatientFactory(clinic=clinic, email=email), clinician)
    sweep()
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.org", "b@example.org"]


def test_the_one_month_invitation_and_reminders_are_one_email_too(both_knees, clock):
    patient, _ = both_knees
    clock.move_to(at(2026, 3, 30, 9, 30))  # both 1-month windows open today
    sweep()
    invitation = [m for m in mail.outbox if "both your knees" in m.subject and "Reminder" not in m.subject]
    assert len(invitation) == 1
    for kind in (MessageKind.REMINDER_1, MessageKind.REMINDER_2, MessageKind.FINAL_REMINDER):
        rows = OutboundMessage.objects.filter(patient=patient, kind=kind)
        assert rows.count() == 2
        clock.move_to(rows.first().scheduled_for)
        mail.outbox.clear()
        sweep()
        (email,) = [m for m in mail.outbox if m.to == ["grace@example.org"]]
        assert email.subject.endswith(("questionnaires about both your knees", "both your knees close soon"))
        assert "your left knee, injected on 2 March 2026" in email.body
        assert "your right knee, injected on 2 March 2026" in email.body


def test_many_patients_treated_in_both_knees_each_get_one_email(clock, clinic, clinician):
    clock.move_to(at(2026, 3, 2, 8, 0))  # before sending hours: every invitation waits for 09:00
    for n in range(6):
        patient = PatientFactory(clinic=clinic, email=f"p{n}@example.org")
        make_injection(patient, clinician, knee="left")
        make_injection(patient, clinician, knee="right")
    clock.move_to(at(2026, 3, 2, 9, 1))
    sweep()
    assert len(mail.outbox) == 6
    assert all("both your knees" in m.subject for m in mail.outbox)

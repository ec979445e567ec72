"""Sending one outbox row: checked again at send time, one email with links and no clinical detail, transient
errors retried with backoff, permanent ones failed with the reason, nothing ever sent twice."""

import datetime as dt
import re
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from notifications import services
from notifications.models import (
    AttemptOutcome,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    UnsubscribeToken,
)
from notifications.services import TransportError
from notifications.services.sending import classify
from outcomes.models import QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import hash_token
from registry.choices import Product
from registry.services import injection_update, patient_update, patient_withdraw_consent
from tests.factories import make_injection
from tests.support.clock import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def baseline(clock, patient, clinician, clinic):
    clinic.contact_email = "outcomes@north.example"
    clinic.save()
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 20))
    return injection.plan.follow_ups.get(timepoint=Timepoint.BASELINE)


@pytest.fixture
def invitation(baseline):
    return OutboundMessage.objects.get(follow_up=baseline, kind=MessageKind.INVITATION)


def send(message):
    return services.messages_send([message.pk])


def test_invitation_email_says_who_and_why_with_links_and_no_clinical_detail(invitation, patient, clinic):
    result = send(invitation)
    assert result.sent == 1
    (email,) = mail.outbox
    assert email.to == [patient.email]
    assert email.from_email.startswith('"North Knee Clinic"') or email.from_email.startswith("North Knee Clinic")
    assert email.reply_to == ["outcomes@north.example"]
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert "North Knee Clinic" in body
        assert "outcomes@north.example" in body
        assert "why you are getting this" in body.lower()
    token = re.search(r"/q/([\w-]+)/", email.body).group(1)
    unsubscribe = re.search(r"/unsubscribe/([\w-]+)/", email.body).group(1)
    assert email.extra_headers["List-Unsubscribe"].endswith(f"/unsubscribe/{unsubscribe}/>")
    invitation.refresh_from_db()
    assert invitation.status == MessageStatus.SENT
    assert invitation.attempts == 1
    assert invitation.sent_at
    # The link row is tracked on the message; only hashes are stored, never the tokens.
    assert invitation.link == QuestionnaireLink.objects.get(token_hash=hash_token(token))
    assert token not in str(OutboundMessage.objects.filter(pk=invitation.pk).values().get())
    assert UnsubscribeToken.objects.filter(patient=patient).count() == 1
    assert invitation.delivery_attempts.get().outcome == AttemptOutcome.SENT

    # It names the knee and the injection day (a patient treated in both knees must tell the questionnaires
    # apart: issue 12), and nothing more clinical: no scores, no product.
    label = invitation.follow_up.patient_label
    assert re.fullmatch(r"your left knee, injected on \d+ \w+ 2026", label)
    assert email.body.count(label) == 1
    assert html.count(label) == 1
    assert email.subject == "North Knee Clinic: a short questionnaire about your left knee"
    words = f"{email.subject}\n{email.body}\n{html}".replace("North Knee Clinic", "").replace(label, "").lower()
    words = words.replace("your left knee", "")  # the subject and the button
    forbidden = ["knee", "score", "koos", "oks", "vas", "pain", "injection", "bmac", "marrow"]
    forbidden += [label.split(" (")[0].lower() for _, label in Product.choices]
    assert [word for word in forbidden if re.search(rf"\b{re.escape(word)}\b", words)] == []


def test_each_email_gets_a_fresh_link(baseline, invitation, clock):
    send(invitation)
    reminder = OutboundMessage.objects.get(follow_up=baseline, kind=MessageKind.REMINDER_1)
    clock.move_to(reminder.scheduled_for)
    send(reminder)
    first, second = (re.search(r"/q/([\w-]+)/", m.body).group(1) for m in mail.outbox)
    assert first != second
    assert QuestionnaireLink.objects.filter(follow_up=baseline).count() == 2


def test_not_sent_after_consent_withdrawn(invitation, patient, clinician):
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved away")
    invitation.refresh_from_db()
    # The receiver cancels at once; were the row already claimed, the send-time check would catch it.
    assert invitation.status == MessageStatus.CANCELLED
    assert invitation.cancelled_reason == "Follow-up cancelled: Consent withdrawn"
    OutboundMessage.objects.filter(pk=invitation.pk).update(status=MessageStatus.PENDING)
    result = send(invitation)
    invitation.refresh_from_db()
    assert result.cancelled == 1
    assert not mail.outbox
    assert invitation.status == MessageStatus.CANCELLED
    assert invitation.cancelled_reason.startswith("Follow-up cancelled")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"email_opted_out_at": True}, "Patient unsubscribed from email"),
        ({"consent_email_contact": False}, "No consent to email contact"),
        ({"email": ""}, "No email address on record"),
    ],
)
def test_send_time_check_respects_email_consent(invitation, patient, clinician, change, reason):
    if "email_opted_out_at" in change:
        OutboundMessage.objects.filter(pk=invitation.pk).update(status=MessageStatus.PENDING)
        type(patient).objects.filter(pk=patient.pk).update(email_opted_out_at=at(2026, 3, 1))
    else:
        patient_update(patient=patient, by=clinician, data=change)
    result = send(invitation)
    invitation.refresh_from_db()
    assert (result.cancelled, result.sent) == (1, 0)
    assert invitation.status == MessageStatus.CANCELLED
    assert invitation.cancelled_reason == reason
    assert not mail.outbox


def test_completed_follow_up_is_not_emailed_even_if_the_receiver_missed_it(invitation, baseline):
    type(baseline).objects.filter(pk=baseline.pk).update(status="completed")
    result = send(invitation)
    invitation.refresh_from_db()
    assert result.cancelled == 1
    assert invitation.cancelled_reason == "Questionnaire already completed"
    assert not mail.outbox


def test_moved_injection_moves_pending_messages(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))  # back-dated: 1 month open
    one_month = injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)
    assert one_month.status == "open"
    reminder = OutboundMessage.objects.get(follow_up=one_month, kind=MessageKind.FINAL_REMINDER)
    assert reminder.scheduled_for.date() == dt.date(2026, 3, 20)  # closes 23 March
    injection_update(injection=injection, by=clinician, data={"injected_on": dt.date(2026, 2, 16)}, reason="Date typo")
    reminder.refresh_from_db()
    one_month.refresh_from_db()
    assert one_month.closes_on == dt.date(2026, 4, 6)
    assert reminder.status == MessageStatus.PENDING
    assert reminder.scheduled_for == at(2026, 4, 3, 9, 0)


def test_send_time_check_reschedules_a_message_whose_window_moved(invitation, baseline):
    later = dt.date(2026, 3, 25)
    type(baseline).objects.filter(pk=baseline.pk).update(opens_on=later, due_on=later, closes_on=later)
    result = send(invitation)
    invitation.refresh_from_db()
    assert result.rescheduled == 1
    assert not mail.outbox
    assert invitation.status == MessageStatus.PENDING
    assert invitation.scheduled_for == at(2026, 3, 25, 9, 0)


def test_transient_smtp_error_keeps_the_row_pending_with_backoff(invitation, failing_mail):
    failing_mail.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    result = send(invitation)
    invitation.refresh_from_db()
    assert result.retrying == 1
    assert invitation.status == MessageStatus.PENDING
    assert invitation.attempts == 1
    assert "Connection unexpectedly closed" in invitation.last_error
    assert invitation.scheduled_for == at(2026, 3, 2, 10, 1)  # one minute later, then 2, 4, 8...
    assert invitation.delivery_attempts.get().outcome == AttemptOutcome.TRANSIENT
    # The link minted for the failed email never reached anyone: gone.
    assert not QuestionnaireLink.objects.filter(follow_up=invitation.follow_up).exists()

    failing_mail.error = smtplib.SMTPResponseException(451, b"try again later")
    assert send(invitation).sent == 0  # not due yet: nothing happens
    import time_machine

    with time_machine.travel(at(2026, 3, 2, 10, 2), tick=False):
        send(invitation)
    invitation.refresh_from_db()
    assert invitation.attempts == 2
    assert invitation.scheduled_for == at(2026, 3, 2, 10, 4)

    failing_mail.error = None
    with time_machine.travel(at(2026, 3, 2, 10, 5), tick=False):
        assert send(invitation).sent == 1
    invitation.refresh_from_db()
    assert invitation.status == MessageStatus.SENT
    assert invitation.attempts == 3
    assert invitation.last_error == ""
    assert len(mail.outbox) == 1


def test_transient_errors_give_up_after_the_limit(invitation, failing_mail, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    failing_mail.error = TimeoutError("timed out")
    assert send(invitation).failed == 1
    invitation.refresh_from_db()
    assert invitation.status == MessageStatus.FAILED
    assert invitation.last_error.startswith("Gave up after 1 attempts")


def test_permanent_rejection_fails_with_the_reason(invitation, failing_mail):
    failing_mail.error = smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"5.1.1 No such user")})
    result = send(invitation)
    invitation.refresh_from_db()
    assert result.failed == 1
    assert invitation.status == MessageStatus.FAILED
    assert "550" in invitation.last_error
    assert "No such user" in invitation.last_error
    assert invitation.delivery_state() == ("rejected", f"Rejected: {invitation.last_error}")


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"a@b.c": (450, b"mailbox busy")}), False),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"unknown")}), True),
        (smtplib.SMTPDataError(554, b"rejected"), True),
        (smtplib.SMTPDataError(421, b"shutting down"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (ConnectionRefusedError(111, "refused"), False),
        (ValueError("Invalid address"), True),
        (TransportError("custom", permanent=True), True),
    ],
)
def test_classify(error, permanent):
    assert classify(error).permanent is permanent


def test_duplicate_delivery_of_a_batch_sends_nothing_twice(baseline, clock):
    clock.move_to(at(2026, 3, 5, 10))  # the invitation and reminder 1 are due
    ids, claim = services.messages_claim()
    assert len(ids) == 2
    first = services.messages_send(ids, claim=claim)
    again = services.messages_send(ids, claim=claim)  # the broker redelivered the task
    assert (first.sent, again.sent) == (2, 0)
    assert len(mail.outbox) == 2
    assert services.messages_claim()[0] == []


def test_a_claim_is_taken_by_one_task_only(baseline, clock, monkeypatch):
    """Two deliveries of one batch interleaved: the second finds every row already taken by the first."""
    clock.move_to(at(2026, 3, 5, 10))
    ids, claim = services.messages_claim()
    calls = []
    original = EmailBackend.send_messages

    def send_and_meanwhile_redeliver(self, messages):
        if not calls:
            calls.append(services.messages_send(ids, claim=claim))
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_and_meanwhile_redeliver)
    result = services.messages_send(ids, claim=claim)
    assert calls[0].sent == 0
    assert result.sent == 2
    assert len(mail.outbox) == 2


def test_worker_killed_mid_batch_each_message_sent_once(baseline, clock, monkeypatch):
    clock.move_to(at(2026, 3, 5, 10))
    ids, claim = services.messages_claim()
    original = EmailBackend.send_messages
    sent = []

    class WorkerKilled(BaseException):
        """Not an Exception: nothing in the send loop may catch it (like SIGKILL)."""

    def die_on_second(self, messages):
        if sent:
            raise WorkerKilled
        sent.append(1)
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", die_on_second)
    with pytest.raises(WorkerKilled):
        services.messages_send(ids, claim=claim)
    monkeypatch.setattr(EmailBackend, "send_messages", original)
    assert len(mail.outbox) == 1
    stuck = OutboundMessage.objects.get(status=MessageStatus.SENDING)

    assert stuck.handed_over_at is not None  # it died talking to the mail server: the row may have gone
    first_message_id = stuck.email_message_id
    assert first_message_id

    clock.move_to(
        at(2026, 3, 5, 10, 1) + dt.timedelta(seconds=59)
    )  # within the claim lease (2 minutes): nobody touches it
    assert services.messages_claim()[0] == []
    clock.move_to(at(2026, 3, 5, 10, 2) + dt.timedelta(seconds=1))  # nobody renewed it: the next sweep claims it again
    from tests.support.outbox import sweep

    report = sweep()
    assert report.claimed == 1
    assert report.send.sent == 1
    stuck.refresh_from_db()
    assert stuck.status == MessageStatus.SENT
    assert len(mail.outbox) == 2
    assert sorted(m.to[0] for m in mail.outbox) == [mail.outbox[0].to[0]] * 2
    # Sent again with the Message-ID it was first given: were the first copy delivered, the two are recognisable.
    assert mail.outbox[1].extra_headers["Message-ID"] == first_message_id == stuck.email_message_id
    assert OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 2

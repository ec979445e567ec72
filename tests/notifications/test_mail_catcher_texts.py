"""Staging shows texts in the mail catcher: MailCatcherSmsBackend hands each text to the registry's own email
connection as an email "Text message to +44...", here through a real SMTP server on 127.0.0.1 started by the test
(aiosmtpd, as mailpit would receive it). A catcher that is down keeps the text for a later try."""

import email
import email.policy
import threading

import pytest
from aiosmtpd.controller import Controller

from notifications import services
from notifications.models import Channel, MessageKind, MessageStatus, OutboundMessage
from tests.factories import PatientFactory, make_injection
from tests.processes import free_port, wait_until
from tests.support.clock import at

pytestmark = pytest.mark.django_db


class Catcher:
    def __init__(self):
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    catcher = Catcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SMS_BACKEND = "notifications.sms.MailCatcherSmsBackend"
    yield catcher
    controller.stop()


def text_patient(clock, clinic, clinician):
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    make_injection(patient, clinician)
    return patient


def test_each_text_arrives_in_the_mail_catcher_as_an_email(clock, clinic, clinician, smtp_server):
    patient = text_patient(clock, clinic, clinician)
    report = services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    assert report.send.sent == 1
    wait_until(lambda: len(smtp_server.received) == 1, "the text at the SMTP server", timeout=10)
    ((recipients, message),) = smtp_server.received
    assert recipients == ["447700900123@texts.invalid"]
    assert message["Subject"] == "Text message to +447700900123"
    assert message["X-Text-Message-To"] == "+447700900123"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("North Knee Clinic: please tell us how your knee is now.")
    assert "/q/" in body
    text = OutboundMessage.objects.get(patient=patient, channel=Channel.SMS, kind=MessageKind.INVITATION)
    assert text.status == MessageStatus.SENT
    assert message["X-Reference"] == text.email_message_id
    assert text.recipient == "+447700900123"


def test_a_catcher_that_is_down_keeps_the_text_for_later(clock, clinic, clinician, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.SMS_BACKEND = "notifications.sms.MailCatcherSmsBackend"
    patient = text_patient(clock, clinic, clinician)
    report = services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    assert report.send.retrying == 1
    text = OutboundMessage.objects.get(patient=patient, channel=Channel.SMS, kind=MessageKind.INVITATION)
    assert text.status == MessageStatus.PENDING
    assert text.last_error.startswith("Mail catcher unreachable: ConnectionRefusedError")
    assert text.scheduled_for > at(2026, 3, 2, 10)

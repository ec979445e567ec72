"""Delivery receipts end to end: a text goes through the real Notify or Twilio client to a fake provider on
127.0.0.1 that answers with its id, the registry stores the id, and the provider's callbacks are then posted to
the registry's own endpoints as the provider would (Notify's bearer token, Twilio's signature computed with
RequestValidator). Emails likewise through django-anymail's Mailgun backend and Mailgun's signed webhook."""

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time

import pytest
from twilio.request_validator import RequestValidator

from notifications import services
from notifications.models import Channel, DeliveryReceipt, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import Timepoint
from registry.models import Patient
from tests.factories import PatientFactory, make_injection
from tests.notifications.fake_sms_providers import running
from tests.notifications.test_sms_providers import NOTIFY_KEY, text_only_patient

pytestmark = pytest.mark.django_db

SITE = "https://registry.example.org"
CALLBACK_TOKEN = "notify-callback-" + "x" * 32
TWILIO_TOKEN = "test-token"
MAILGUN_SIGNING_KEY = "key-mailgun-signing-0123456789"
SECURITY_LOG = "django.security.delivery_receipts"


@pytest.fixture(params=["notify", "twilio"])
def provider(request, settings):
    settings.SITE_URL = SITE
    settings.NOTIFY_CALLBACK_TOKEN = CALLBACK_TOKEN
    with running(request.param) as fake:
        if request.param == "notify":
            settings.SMS_BACKEND = "notifications.sms.NotifySmsBackend"
            settings.NOTIFY_API_KEY = NOTIFY_KEY
            settings.NOTIFY_SMS_TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
            settings.NOTIFY_BASE_URL = fake.url
        else:
            settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
            settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
            settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
            settings.TWILIO_FROM = "+447700900999"
            settings.TWILIO_BASE_URL = fake.url
        yield fake


# --- what each provider posts ------------------------------------------------------------------------------

NOTIFY_STATUS = {"sending": "sending", "delivered": "delivered", "permanent": "permanent-failure"}
TWILIO_STATUS = {"sending": ("sent", ""), "delivered": ("delivered", ""), "permanent": ("undelivered", "30005")}


def notify_post(client, text, status, *, token=CALLBACK_TOKEN, at="2026-03-02T10:00:05.000000Z"):
    payload = {
        "id": text.provider_message_id,
        "reference": text.email_message_id,
        "to": text.recipient,
        "status": status,
        "created_at": "2026-03-02T10:00:00.000000Z",
        "completed_at": at,
        "sent_at": "2026-03-02T10:00:01.000000Z",
        "notification_type": "sms",
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/receipts/notify/", data=json.dumps(payload), content_type="application/json", headers=headers)


def twilio_post(client, sid, status, error_code="", *, segment="", signature=None):
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if error_code:
        params["ErrorCode"] = error_code
    if segment:
        params["SegmentNumber"] = segment
    url = f"{SITE}/receipts/twilio/"
    signature = signature if signature is not None else RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    return client.post("/receipts/twilio/", data=params, headers={"X-Twilio-Signature": signature})


def post(client, fake, text, what):
    """The provider says `what` ("sending", "delivered", "permanent") about `text`."""
    if fake.kind == "notify":
        return notify_post(client, text, NOTIFY_STATUS[what])
    return twilio_post(client, text.provider_message_id, *TWILIO_STATUS[what])


def sent_text(clinic, clinician, n=1):
    patient, text = text_only_patient(clinic, clinician, n)
    assert services.messages_send([text.pk]).sent == 1
    text.refresh_from_db()
    return patient, text


# --- texts -------------------------------------------------------------------------------------------------


def test_the_providers_id_is_stored_and_a_delivered_receipt_shows(client, clock, clinic, clinician, provider):
    _patient, text = sent_text(clinic, clinician)
    (received,) = provider.received
    assert text.provider_message_id == received.provider_id != ""
    if provider.kind == "twilio":  # each text tells Twilio where to post its status, at the public address
        assert received.request["StatusCallback"] == f"{SITE}/receipts/twilio/"
    assert text.delivery_state() == ("sent", "Sent")
    assert post(client, provider, text, "sending").status_code == 200
    text.refresh_from_db()
    assert text.delivery == "sent"
    assert post(client, provider, text, "delivered").status_code == 200
    text.refresh_from_db()
    assert text.delivery == "delivered"
    assert text.delivery_state() == ("delivered", "Delivered")
    assert text.receipts.count() == 2


def test_an_older_sending_arriving_after_delivered_changes_nothing(client, clock, clinic, clinician, provider):
    _patient, text = sent_text(clinic, clinician)
    assert post(client, provider, text, "delivered").status_code == 200
    assert post(client, provider, text, "sending").status_code == 200  # late and out of order
    text.refresh_from_db()
    assert text.delivery == "delivered"
    assert sorted(text.receipts.values_list("state", flat=True)) == ["delivered", "sent"]  # both kept


def test_a_repeated_callback_is_stored_once_and_changes_nothing(client, clock, clinic, clinician, provider):
    _patient, text = sent_text(clinic, clinician)
    assert post(client, provider, text, "delivered").status_code == 200
    text.refresh_from_db()
    before = (text.delivery, text.delivery_updated_at, text.updated_at)
    response = post(client, provider, text, "delivered")
    assert (response.status_code, response.json()) == (200, {"status": "duplicate"})
    text.refresh_from_db()
    assert (text.delivery, text.delivery_updated_at, text.updated_at) == before
    assert text.receipts.count() == 1


def both_channels_patient(clinic, clinician, settings):
    """A patient who may be emailed and texted, with a text reminder (day 2) that has no email of its kind, due
    now: the clock is moved to day 2. Email reminders only on day 3; texts on days 1 and 2."""
    settings.NOTIFICATIONS_REMINDER_DAYS = [3]
    settings.NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE = 0
    settings.SMS_REMINDER_DAYS = [1, 2]
    patient = PatientFactory(clinic=clinic, phone="+447700900077", consent_sms_contact=True)
    follow_up = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 20)).plan.follow_ups.get(
        timepoint=Timepoint.BASELINE
    )
    text = OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.REMINDER_2, channel=Channel.SMS)
    assert not OutboundMessage.objects.filter(follow_up=follow_up, kind=MessageKind.REMINDER_2, channel="email")
    return patient, follow_up, text


def test_a_permanent_failure_marks_the_number_and_sends_the_email_once(
    client, clock, clinic, clinician, provider, settings
):
    patient, follow_up, text = both_channels_patient(clinic, clinician, settings)
    clock.move_to(text.scheduled_for + dt.timedelta(minutes=1))
    assert services.messages_send([text.pk]).sent == 1
    text.refresh_from_db()
    assert post(client, provider, text, "permanent").status_code == 200
    patient.refresh_from_db()
    text.refresh_from_db()
    assert patient.phone_invalid_at is not None
    assert not patient.may_text
    assert "Not delivered" in patient.phone_invalid_reason
    assert patient.history.first().history_change_reason.startswith("Phone number refused by the text message")
    code, label = text.delivery_state()
    assert code == "failed_permanent"
    assert label.startswith("Failed: number refused")
    fallback = OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.REMINDER_2, channel=Channel.EMAIL)
    assert (fallback.status, fallback.context) == (MessageStatus.PENDING, {"fallback_for": text.pk})
    # The same failure again, and a later "delivered": still failed, still one email.
    assert post(client, provider, text, "permanent").json() == {"status": "duplicate"}
    assert post(client, provider, text, "delivered").status_code == 200
    text.refresh_from_db()
    assert text.delivery == "failed_permanent"
    assert OutboundMessage.objects.filter(follow_up=follow_up, kind=MessageKind.REMINDER_2).count() == 2
    # And the email goes.
    assert services.messages_send([fallback.pk]).sent == 1


def test_forged_callbacks_are_refused_logged_and_change_nothing(client, clock, clinic, clinician, provider, caplog):
    _patient, text = sent_text(clinic, clinician)
    caplog.set_level(logging.WARNING, logger=SECURITY_LOG)
    if provider.kind == "notify":
        responses = [
            notify_post(client, text, "permanent-failure", token="forged-" + CALLBACK_TOKEN),
            notify_post(client, text, "permanent-failure", token=""),
        ]
        assert {r.status_code for r in responses} == {401}
    else:
        good = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{SITE}/receipts/twilio/", {"MessageSid": text.provider_message_id, "MessageStatus": "delivered"}
        )
        responses = [
            twilio_post(client, text.provider_message_id, "undelivered", "30005", signature="bm90IGEgc2lnbmF0dXJl"),
            twilio_post(client, text.provider_message_id, "undelivered", "30005", signature=""),
            # A signature of other parameters (a replayed "delivered") does not cover a changed status.
            twilio_post(client, text.provider_message_id, "undelivered", "30005", signature=good),
        ]
        assert {r.status_code for r in responses} == {403}
    refused = [r for r in caplog.records if r.name == SECURITY_LOG]
    assert len(refused) == len(responses)
    text.refresh_from_db()
    assert (text.delivery, text.receipts.count()) == ("", 0)
    assert Patient.objects.get(pk=text.patient_id).phone_invalid_at is None


def test_a_failed_part_is_not_hidden_by_a_delivered_part(client, clock, clinic, clinician, settings):
    settings.SITE_URL = SITE
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    _patient, text = text_only_patient(clinic, clinician)
    OutboundMessage.objects.filter(pk=text.pk).update(status=MessageStatus.SENT, provider_message_id="SM" + "1" * 32)
    assert twilio_post(client, "SM" + "1" * 32, "undelivered", "30003", segment="1").status_code == 200
    assert twilio_post(client, "SM" + "1" * 32, "delivered", segment="2").status_code == 200
    text.refresh_from_db()
    assert text.delivery == "failed_temporary"
    assert text.delivery_state() == (
        "failed_temporary",
        "Not delivered: Twilio error 30003: phone switched off or unreachable",
    )
    # A temporary failure says nothing against the number.
    assert Patient.objects.get(pk=text.patient_id).phone_invalid_at is None


def test_a_receipt_for_an_unknown_message_is_accepted_ignored_and_logged(client, settings, caplog):
    settings.NOTIFY_CALLBACK_TOKEN = CALLBACK_TOKEN
    caplog.set_level(logging.WARNING)
    unknown = OutboundMessage(provider_message_id="no-such-id", email_message_id="", recipient="+447700900001")
    response = notify_post(client, unknown, "delivered")
    assert (response.status_code, response.json()) == (202, {"status": "unknown"})
    assert DeliveryReceipt.objects.count() == 0
    assert any("do not know" in r.getMessage() for r in caplog.records)


def test_the_endpoints_take_posts_only_and_small_bodies(client, settings):
    settings.NOTIFY_CALLBACK_TOKEN = CALLBACK_TOKEN
    for url in ("/receipts/notify/", "/receipts/twilio/"):
        assert client.get(url).status_code == 405
    big = json.dumps({"id": "x", "status": "delivered", "padding": "x" * 70_000})
    response = client.post(
        "/receipts/notify/",
        data=big,
        content_type="application/json",
        headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
    )
    assert response.status_code == 413
    assert "sessionid" not in client.cookies


# --- emails through django-anymail (Mailgun) -----------------------------------------------------------------


@pytest.fixture
def mailgun(settings):
    with running("mailgun") as fake:
        settings.ANYMAIL_ESP = "mailgun"
        settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
        settings.ANYMAIL = {
            "MAILGUN_API_KEY": "key-test",
            "MAILGUN_API_URL": f"{fake.url}/v3",
            "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        }
        yield fake


def mailgun_post(client, message_id, event, *, severity="", key=MAILGUN_SIGNING_KEY, recipient=None, extra=None):
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    event_data = {
        "event": event,
        "timestamp": time.time(),
        "id": secrets.token_hex(8),
        "recipient": recipient,
        "message": {"headers": {"message-id": message_id.strip("<>")}},
        **(extra or {}),
    }
    if severity:
        event_data["severity"] = severity
    body = {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}
    return client.post("/receipts/email/", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def emailed(clock, clinic, clinician, mailgun):
    """A patient who may be emailed and texted: the invitation goes by email, through Mailgun."""
    patient = PatientFactory(clinic=clinic, phone="+447700900088", consent_sms_contact=True)
    follow_up = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 20)).plan.follow_ups.get(
        timepoint=Timepoint.BASELINE
    )
    invitation = OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.INVITATION, channel=Channel.EMAIL)
    assert services.messages_send([invitation.pk]).sent == 1
    invitation.refresh_from_db()
    (received,) = mailgun.received
    assert invitation.provider_message_id == received.provider_id != ""
    return patient, follow_up, invitation


def test_a_hard_bounce_marks_the_address_and_sends_a_text_instead(client, emailed):
    patient, follow_up, invitation = emailed
    details = {"delivery-status": {"description": "No such mailbox", "message": "550 5.1.1 unknown user"}}
    response = mailgun_post(
        client, invitation.provider_message_id, "failed", severity="permanent", recipient=patient.email, extra=details
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    invitation.refresh_from_db()
    assert patient.email_invalid_at is not None
    assert not patient.may_email
    assert patient.email_invalid_reason == "No such mailbox"
    assert patient.history.first().history_change_reason == "Email address bounced: No such mailbox"
    assert invitation.delivery_state() == ("failed_permanent", "Bounced: No such mailbox")
    text = OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.INVITATION, channel=Channel.SMS)
    assert (text.status, text.context) == (MessageStatus.PENDING, {"fallback_for": invitation.pk})
    # Mailgun retries the same event (same signature token): nothing more.
    assert DeliveryReceipt.objects.filter(message=invitation).count() == 1


def test_a_soft_bounce_is_only_a_delay(client, emailed):
    patient, follow_up, invitation = emailed
    assert mailgun_post(client, invitation.provider_message_id, "failed", severity="temporary").status_code == 200
    assert mailgun_post(client, invitation.provider_message_id, "delivered").status_code == 200
    invitation.refresh_from_db()
    assert invitation.delivery_state() == ("delivered", "Delivered")
    patient.refresh_from_db()
    assert patient.may_email
    assert not OutboundMessage.objects.filter(follow_up=follow_up, channel=Channel.SMS, kind=MessageKind.INVITATION)


def test_opened_shows_opened(client, emailed):
    _patient, _follow_up, invitation = emailed
    assert mailgun_post(client, invitation.provider_message_id, "delivered").status_code == 200
    assert mailgun_post(client, invitation.provider_message_id, "opened").status_code == 200
    invitation.refresh_from_db()
    assert invitation.delivery_state() == ("opened", "Email opened")


def test_a_complaint_stops_emailing_the_patient(client, emailed):
    patient, _follow_up, invitation = emailed
    response = mailgun_post(client, invitation.provider_message_id, "complained", recipient=patient.email)
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.email_opted_out_at is not None
    assert "spam" in patient.history.first().history_change_reason
    pending = OutboundMessage.objects.filter(patient=patient, channel=Channel.EMAIL, status=MessageStatus.PENDING)
    assert not pending.exists()


def test_a_forged_email_webhook_is_refused_and_changes_nothing(client, emailed, caplog):
    patient, _follow_up, invitation = emailed
    caplog.set_level(logging.WARNING, logger=SECURITY_LOG)
    response = mailgun_post(
        client, invitation.provider_message_id, "failed", severity="permanent", key="not-the-signing-key"
    )
    assert response.status_code == 403
    assert [r for r in caplog.records if r.name == SECURITY_LOG]
    invitation.refresh_from_db()
    patient.refresh_from_db()
    assert (invitation.delivery, patient.email_invalid_at, DeliveryReceipt.objects.count()) == ("", None, 0)


def test_without_an_email_service_there_is_no_email_webhook(client, settings):
    settings.ANYMAIL_ESP = ""
    assert client.post("/receipts/email/", data="{}", content_type="application/json").status_code == 404

"""Texts through GOV.UK Notify and Twilio: the real client libraries against fake provider servers on 127.0.0.1.
Success, a number the provider refuses (permanent: the number is marked bad, never retried), rate limiting and
timeouts (temporary: retried with backoff), and an outage in the middle of a batch (the rest retried later,
none sent twice)."""

import datetime as dt

import pytest

from notifications import services, sms
from notifications.models import AttemptOutcome, Channel, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import LinkChannel, hash_token
from tests.factories import PatientFactory, make_injection
from tests.notifications.fake_sms_providers import notify_error, running, twilio_error

pytestmark = pytest.mark.django_db

NOTIFY_KEY = "registry_test-11111111-2222-3333-4444-555555555555-66666666-7777-8888-9999-000000000000"


@pytest.fixture(params=["notify", "twilio"])
def provider(request, settings):
    with running(request.param) as fake:
        if request.param == "notify":
            settings.SMS_BACKEND = "notifications.sms.NotifySmsBackend"
            settings.NOTIFY_API_KEY = NOTIFY_KEY
            settings.NOTIFY_SMS_TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
            settings.NOTIFY_BASE_URL = fake.url
        else:
            settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
            settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
            settings.TWILIO_AUTH_TOKEN = "test-token"
            settings.TWILIO_FROM = "+447700900999"
            settings.TWILIO_BASE_URL = fake.url
        yield fake


def invalid_number(kind):
    if kind == "notify":
        return 400, notify_error(400, "ValidationError", "phone_number Not a UK mobile number"), 0
    return 400, twilio_error(400, 21211, "The 'To' number +447700900001 is not a valid phone number."), 0


def rate_limited(kind):
    if kind == "notify":
        return 429, notify_error(429, "RateLimitError", "Exceeded rate limit for key type LIVE"), 0
    return 429, twilio_error(429, 20429, "Too Many Requests"), 0


def outage(kind):
    if kind == "notify":
        return 500, notify_error(500, "Exception", "Internal server error"), 0
    return 503, twilio_error(503, 20503, "Service unavailable"), 0


def text_only_patient(clinic, clinician, n=1):
    """A patient who agreed to texts only: their baseline invitation is a text (due at once)."""
    patient = PatientFactory(clinic=clinic, email="", phone=f"+4477009000{n:02d}", consent_sms_contact=True)
    plan = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 20)).plan
    follow_up = plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    return patient, OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.INVITATION, channel=Channel.SMS)


def test_a_text_goes_once_with_its_link(clock, clinic, clinician, provider):
    _patient, text = text_only_patient(clinic, clinician)
    result = services.messages_send([text.pk])
    assert result.sent == 1
    (received,) = provider.received
    assert received.to == "+447700900001"
    assert "North Knee Clinic" in received.body
    token = received.body.split("/q/")[1].split("/")[0]
    link = QuestionnaireLink.objects.get(token_hash=hash_token(token))
    assert link.channel == LinkChannel.SMS
    text.refresh_from_db()
    assert (text.status, text.recipient, text.link_id) == (MessageStatus.SENT, "+447700900001", link.pk)
    assert list(text.delivery_attempts.values_list("outcome", flat=True)) == [AttemptOutcome.SENT]
    if provider.kind == "notify":
        assert received.reference == text.email_message_id  # the provider's record names our row
        assert "STOP" not in received.body  # Notify handles no STOP replies: no promise the patient cannot use
    else:
        assert received.body.endswith("Reply STOP to opt out.")
    assert services.messages_send([text.pk]).sent == 0  # already sent: nothing to take
    assert len(provider.received) == 1


def test_a_refused_number_is_marked_and_never_retried(clock, clinic, clinician, provider):
    patient, text = text_only_patient(clinic, clinician)
    later = OutboundMessage.objects.filter(patient=patient, channel=Channel.SMS, status=MessageStatus.PENDING)
    assert later.exclude(pk=text.pk).exists()  # the reminders, waiting
    provider.reply = lambda n, request: invalid_number(provider.kind)
    result = services.messages_send([text.pk])
    assert result.failed == 1
    text.refresh_from_db()
    assert text.status == MessageStatus.FAILED
    assert "21211" in text.last_error or "Not a UK mobile number" in text.last_error
    assert list(text.delivery_attempts.values_list("outcome", flat=True)) == [AttemptOutcome.PERMANENT]
    patient.refresh_from_db()
    assert patient.phone_invalid_at is not None
    assert patient.phone_invalid_reason == text.last_error[:200]
    assert patient.history.first().history_change_reason.startswith("Phone number refused")
    assert not patient.may_text
    assert not later.exists()  # the reminders are cancelled too
    clock.move_to(clock_now() + dt.timedelta(days=10))  # the reminders' days
    services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    assert len(provider.received) == 1  # never tried again


def test_opted_out_at_twilio_stops_texts(clock, clinic, clinician, settings):
    with running("twilio") as fake:
        settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "token"
        settings.TWILIO_FROM, settings.TWILIO_BASE_URL = "+447700900999", fake.url
        fake.reply = lambda n, request: (400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), 0)
        patient, text = text_only_patient(clinic, clinician)
        assert services.messages_send([text.pk]).failed == 1
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    assert patient.phone_invalid_at is None  # the number is fine; the patient said no
    assert not OutboundMessage.objects.filter(patient=patient, channel=Channel.SMS, status=MessageStatus.PENDING)


def test_rate_limited_is_retried_with_backoff(clock, clinic, clinician, provider):
    patient, text = text_only_patient(clinic, clinician)
    provider.reply = _first_then_ok(provider, rate_limited(provider.kind))
    started = clock_now()
    assert services.messages_send([text.pk]).retrying == 1
    text.refresh_from_db()
    assert text.status == MessageStatus.PENDING
    assert text.attempts == 1
    assert text.scheduled_for >= started + dt.timedelta(seconds=60)  # NOTIFICATIONS_BACKOFF_BASE_SECONDS
    assert "429" in text.last_error
    assert list(text.delivery_attempts.values_list("outcome", flat=True)) == [AttemptOutcome.TRANSIENT]
    patient.refresh_from_db()
    assert patient.phone_invalid_at is None
    assert services.messages_send([text.pk]).sent == 0  # not due yet
    clock.move_to(text.scheduled_for + dt.timedelta(seconds=1))
    assert services.messages_send([text.pk]).sent == 1
    assert [r.status for r in provider.received] == [429, 201]


def test_a_timeout_is_temporary(clock, clinic, clinician, provider, monkeypatch):
    monkeypatch.setattr(sms, "SMS_TIMEOUT_SECONDS", 0.3)
    _patient, text = text_only_patient(clinic, clinician)
    provider.reply = _first_then_ok(provider, (201, {}, 1.0))  # answers too late
    assert services.messages_send([text.pk]).retrying == 1
    text.refresh_from_db()
    assert text.status == MessageStatus.PENDING
    assert "unreachable" in text.last_error
    clock.move_to(text.scheduled_for + dt.timedelta(seconds=1))
    assert services.messages_send([text.pk]).sent == 1


def test_an_outage_in_the_middle_of_a_batch(clock, clinic, clinician, provider):
    texts = [text_only_patient(clinic, clinician, n)[1] for n in range(1, 5)]
    down = {"from": 3}

    def reply(n, request):
        if n >= down["from"]:
            return outage(provider.kind)
        return _success(provider.kind, request)

    provider.reply = reply
    result = services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    assert (result.send.sent, result.send.retrying) == (2, 2)
    statuses = sorted(OutboundMessage.objects.filter(pk__in=[t.pk for t in texts]).values_list("status", flat=True))
    assert statuses == [MessageStatus.PENDING] * 2 + [MessageStatus.SENT] * 2
    down["from"] = 10_000  # the provider is back
    clock.move_to(clock_now() + dt.timedelta(minutes=5))
    result = services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    assert result.send.sent == 2
    assert set(OutboundMessage.objects.filter(pk__in=[t.pk for t in texts]).values_list("status", flat=True)) == {
        MessageStatus.SENT
    }
    delivered = sorted(r.to for r in provider.ok())
    assert delivered == sorted({r.to for r in provider.ok()})  # each number once
    assert len(delivered) == 4


def _success(kind, request):
    from tests.notifications.fake_sms_providers import notify_success, twilio_success

    return 201, (notify_success if kind == "notify" else twilio_success)(request), 0


def _first_then_ok(provider, first):
    def reply(n, request):
        return first if n == 1 else _success(provider.kind, request)

    return reply


def clock_now():
    from django.utils import timezone

    return timezone.now()

"""Texts in the outbox: which follow-ups get which texts (email first, text reminders at SMS_REMINDER_DAYS to
patients who agreed to texts, the invitation by text to those who cannot be emailed), what a text says (short,
who is asking, the link, nothing clinical), and the send-time checks of the text channel."""

import datetime as dt
import re

import pytest

from notifications import services
from notifications.models import Channel, MessageKind, MessageStatus, OutboundMessage
from notifications.texts import questionnaire_text
from outcomes.models import Timepoint
from registry.services import patient_update
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at

pytestmark = pytest.mark.django_db

# GSM 03.38 basic character set: a text using only these is GSM-7 (153 characters a segment when split).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
CLINICAL_WORDS = re.compile(
    r"inject|prp|bmac|hyaluron|steroid|cortico|stem cell|arthritis|osteo|adverse|pain|swelling|"
    r"left|right|diagnos|treatment|product",
    re.IGNORECASE,
)


def queue(now=None):
    """The sweep, with the claimed rows given straight back: what is queued, nothing sent."""
    return services.followups_sweep(now, dispatch=lambda ids, claim: services.messages_release(claim=claim) and None)


def texts(patient, **filters):
    return OutboundMessage.objects.filter(patient=patient, channel=Channel.SMS, **filters)


def month_follow_up(patient, clinician):
    plan = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2)).plan
    return plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)


@pytest.mark.parametrize("kind", [MessageKind.INVITATION, MessageKind.REMINDER_1, MessageKind.REMINDER_2])
@pytest.mark.parametrize("stop", [True, False])
def test_a_text_is_short_plain_and_says_who_asks(kind, stop, settings):
    settings.SITE_URL = "https://knee-outcomes-registry.example.org"
    clinic = "St Bartholomew's Orthopaedic Knee Clinic and Outpatients"  # longer than any sensible name
    token = "A" * 43  # secrets.token_urlsafe(32): 256 bits
    body = questionnaire_text(kind=kind, clinic_name=clinic, token=token, supports_stop=stop)
    assert set(body) <= GSM7, set(body) - GSM7
    assert len(body) <= 2 * 153
    assert body.startswith("St Bartholomew's Orthopaedic Knee Cl")  # who is asking, first
    assert f"https://knee-outcomes-registry.example.org/q/{token}/" in body
    assert "your knee" in body
    assert not CLINICAL_WORDS.search(body.replace(clinic[:37], ""))
    assert body.endswith("Reply STOP to opt out.") == stop


def test_email_patients_who_agreed_to_texts_get_text_reminders_on_days_7_and_12(clock, clinic, clinician):
    both = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    email_only = PatientFactory(clinic=clinic, phone="+447700900124")  # a number, but no consent to texts
    clock.move_to(at(2026, 3, 30, 9))  # the one-month windows open
    follow_ups = {p: month_follow_up(p, clinician) for p in (both, email_only)}
    queue()
    assert not texts(email_only).exists()
    opens_on = follow_ups[both].opens_on
    planned = {
        m.kind: m.scheduled_for.astimezone(clinic.tzinfo).date() for m in texts(both).filter(follow_up=follow_ups[both])
    }
    # Email goes first: no text invitation to a patient with email; text reminders on days 7 and 12.
    assert planned == {
        MessageKind.REMINDER_1: opens_on + dt.timedelta(days=7),
        MessageKind.REMINDER_2: opens_on + dt.timedelta(days=12),
    }
    keys = set(texts(both).filter(follow_up=follow_ups[both]).values_list("dedupe_key", flat=True))
    assert keys == {f"{follow_ups[both].pk}:reminder_1:sms", f"{follow_ups[both].pk}:reminder_2:sms"}
    emails = OutboundMessage.objects.filter(follow_up=follow_ups[both], channel=Channel.EMAIL)
    assert emails.filter(kind=MessageKind.INVITATION).exists()
    services.messages_schedule(follow_up_ids=[follow_ups[both].pk])  # a second sweep writes nothing new
    assert texts(both).filter(follow_up=follow_ups[both]).count() == 2


def test_a_patient_on_texts_only_gets_the_invitation_by_text(clock, clinic, clinician):
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    clock.move_to(at(2026, 3, 30, 9))
    follow_up = month_follow_up(patient, clinician)
    queue()
    kinds = set(texts(patient).filter(follow_up=follow_up).values_list("kind", flat=True))
    assert kinds == {MessageKind.INVITATION, MessageKind.REMINDER_1, MessageKind.REMINDER_2}


def test_settings_choose_the_text_reminder_days(clock, clinic, clinician, settings):
    settings.SMS_REMINDER_DAYS = [10]
    patient = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    clock.move_to(at(2026, 3, 30, 9))
    follow_up = month_follow_up(patient, clinician)
    queue()
    (text,) = texts(patient).filter(follow_up=follow_up)
    assert text.scheduled_for.astimezone(clinic.tzinfo).date() == follow_up.opens_on + dt.timedelta(days=10)


def test_unsubscribing_from_email_leaves_texts_and_opting_out_of_texts_leaves_email(clock, clinic, clinician):
    patient = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    clock.move_to(at(2026, 3, 30, 9))
    follow_up = month_follow_up(patient, clinician)
    queue()
    from notifications.models import UnsubscribeToken
    from notifications.services.contact import unsubscribe_confirm

    token = UnsubscribeToken.objects.create(patient=patient, token_hash="x" * 64)
    unsubscribe_confirm(token=token)
    assert not OutboundMessage.objects.filter(follow_up=follow_up, channel=Channel.EMAIL, status="pending").exists()
    assert texts(patient, status=MessageStatus.PENDING).count() == 2


def test_send_time_checks_of_a_text(clock, clinic, clinician):
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    clock.move_to(at(2026, 3, 30, 9, 30))
    month_follow_up(patient, clinician)
    queue()
    invitation = texts(patient).get(kind=MessageKind.INVITATION)
    # The clinician takes the consent to texts away before it goes: the text is not sent, and says why.
    patient_update(patient=patient, by=clinician, data={"consent_sms_contact": False}, reason="Prefers a call")
    result = services.messages_send([invitation.pk])
    assert result.cancelled == 1
    invitation.refresh_from_db()
    assert (invitation.status, invitation.cancelled_reason) == (
        MessageStatus.CANCELLED,
        "No consent to text message contact",
    )
    assert not texts(patient, status=MessageStatus.PENDING).exists()  # its reminders too


def test_a_text_outside_sending_hours_waits_for_the_morning(clock, clinic, clinician):
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    clock.move_to(at(2026, 3, 30, 9, 30))
    month_follow_up(patient, clinician)
    queue()
    invitation = texts(patient).get(kind=MessageKind.INVITATION)
    OutboundMessage.objects.filter(pk=invitation.pk).update(scheduled_for=at(2026, 3, 30, 6))
    clock.move_to(at(2026, 3, 31, 22))
    assert services.messages_send([invitation.pk]).rescheduled == 1
    invitation.refresh_from_db()
    assert invitation.scheduled_for == at(2026, 4, 1, 9)


def test_the_dev_backend_puts_the_text_in_the_mailbox(clock, clinic, clinician, settings, tmp_path):
    from notifications.mailbox import read_mailbox

    settings.MAILBOX_DIR = tmp_path
    settings.SMS_BACKEND = "notifications.sms.DevSmsBackend"
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    clock.move_to(at(2026, 3, 30, 9, 30))
    month_follow_up(patient, clinician)
    services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    (item,) = read_mailbox()
    assert item["subject"] == "Text message to +447700900123"
    assert "North Knee Clinic: please tell us how your knee is now" in item["text"]
    assert texts(patient, status=MessageStatus.SENT).count() == 1


def test_correcting_a_refused_number_lets_texts_go_again(clinic, clinician):
    from registry.services import patient_phone_mark_invalid

    patient = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    patient = patient_phone_mark_invalid(patient=patient, reason="Twilio replied 400 (error 21614)")
    assert not patient.may_text
    patient = patient_update(patient=patient, by=clinician, data={"phone": "07700 900456"}, reason="New mobile")
    assert (patient.phone, patient.phone_invalid_at, patient.may_text) == ("+447700900456", None, True)
    assert patient.history.first().history_change_reason == "New mobile"


def test_a_misconfigured_provider_keeps_the_text_for_later(clock, clinic, clinician, settings):
    settings.SMS_BACKEND = "notifications.sms.NotifySmsBackend"
    settings.NOTIFY_API_KEY = ""  # forgotten
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    clock.move_to(at(2026, 3, 30, 9, 30))
    month_follow_up(patient, clinician)
    queue()
    invitation = texts(patient).get(kind=MessageKind.INVITATION)
    assert services.messages_send([invitation.pk]).retrying == 1
    invitation.refresh_from_db()
    assert invitation.status == MessageStatus.PENDING
    assert "NOTIFY_API_KEY" in invitation.last_error
    assert not invitation.link_id


@pytest.mark.parametrize("days", [[0], [3, 7, 12], "7,12", [True]])
def test_malformed_text_reminder_days_stop_start_up(settings, days):
    from django.core.exceptions import ImproperlyConfigured

    from notifications import conf

    settings.SMS_REMINDER_DAYS = days
    with pytest.raises(ImproperlyConfigured, match="SMS_REMINDER_DAYS"):
        conf.get()

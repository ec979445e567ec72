"""A clinician, on a phone between patients, opens a patient whose text reminder never arrived: GOV.UK Notify's
receipt (posted to the running server, with its bearer token) said the number does not exist. The page shows the
text as failed with the reason, the number as refused, and the email sent in its place, and passes axe-core."""

import datetime as dt
import json

import pytest
import requests
from django.utils import timezone

from notifications.models import Channel, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import Timepoint
from tests.e2e.checks import layout_problems, screenshot
from tests.factories import PASSWORD, PatientFactory, make_injection

TOKEN = "e2e-notify-callback-token-" + "z" * 16


@pytest.fixture
def failed_text(settings, clinic, clinician):
    settings.NOTIFY_CALLBACK_TOKEN = TOKEN
    settings.NOTIFICATIONS_REMINDER_DAYS = [3]  # no email "second reminder": the text's email stand-in is new
    patient = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    follow_up = make_injection(
        patient, clinician, injected_on=timezone.localdate() + dt.timedelta(days=14)
    ).plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    # Its second text reminder, handed to Notify (the sending itself is tested in tests/notifications).
    text, _ = OutboundMessage.objects.update_or_create(
        dedupe_key=f"{follow_up.pk}:reminder_2:sms",
        defaults={
            "kind": MessageKind.REMINDER_2,
            "channel": Channel.SMS,
            "clinic": clinic,
            "follow_up": follow_up,
            "patient": patient,
            "scheduled_for": timezone.now(),
            "status": MessageStatus.SENT,
            "sent_at": timezone.now(),
            "recipient": patient.phone,
            "provider_message_id": "7d1c2f0e-0000-4000-8000-000000000001",
        },
    )
    return patient, follow_up, text


def test_the_patient_page_shows_a_failed_text_and_the_email_sent_instead(
    failed_text, live_server, phone_page, sign_in, clinician
):
    patient, follow_up, text = failed_text
    receipt = {
        "id": text.provider_message_id,
        "reference": "",
        "to": patient.phone,
        "status": "permanent-failure",
        "created_at": "2026-03-02T10:00:00.000000Z",
        "completed_at": "2026-03-02T10:05:00.000000Z",
        "sent_at": "2026-03-02T10:00:01.000000Z",
        "notification_type": "sms",
    }
    answer = requests.post(
        f"{live_server.url}/receipts/notify/",
        data=json.dumps(receipt),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200
    fallback = OutboundMessage.objects.get(follow_up=follow_up, kind=MessageKind.REMINDER_2, channel=Channel.EMAIL)

    sign_in(phone_page, clinician, PASSWORD)
    phone_page.goto(f"{live_server.url}/patients/{patient.registry_number}/")
    messages = phone_page.locator("section[aria-labelledby=messages-title]")
    failed_row = messages.locator("tr", has_text="Second reminder (text message)")
    assert "Failed: number refused: the phone network says the number does not exist" in failed_row.inner_text()
    email_row = messages.locator("tr", has_text="Sent instead of a message that did not arrive")
    assert email_row.count() == 1
    assert "Second reminder" in email_row.inner_text()
    assert fallback.get_status_display() in email_row.inner_text()  # queued, going out by email
    assert phone_page.get_by_text("Refused for text messages").is_visible()
    assert layout_problems(phone_page) == []
    messages.scroll_into_view_if_needed()
    screenshot(phone_page, "patient-page-failed-text-phone", full_page=False)

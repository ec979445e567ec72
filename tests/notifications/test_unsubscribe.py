"""The unsubscribe link: GET only asks (mail scanners open links), POST records the opt-out on the patient, with
history the clinic sees, and cancels pending emails at once."""

import datetime as dt
import re

import pytest
from django.core import mail

from notifications import services
from notifications.models import MessageKind, MessageStatus, OutboundMessage, UnsubscribeToken
from outcomes.models import Timepoint
from tests.factories import make_injection

pytestmark = pytest.mark.django_db


@pytest.fixture
def unsubscribe_url(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 20))
    baseline = injection.plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    invitation = OutboundMessage.objects.get(follow_up=baseline, kind=MessageKind.INVITATION)
    services.messages_send([invitation.pk])
    return re.search(r"https?://[^/]+(/unsubscribe/[\w-]+/)", mail.outbox[0].body).group(1)


def test_get_only_asks(client, unsubscribe_url, patient):
    response = client.get(unsubscribe_url)
    assert response.status_code == 200
    assert b"Stop emails from North Knee Clinic" in response.content
    patient.refresh_from_db()
    assert patient.email_opted_out_at is None


def test_post_records_the_opt_out_and_cancels_pending_emails(client, unsubscribe_url, patient):
    assert OutboundMessage.objects.filter(patient=patient, status=MessageStatus.PENDING).exists()
    response = client.post(unsubscribe_url)
    assert response.status_code == 200
    assert b"You will not get any more emails" in response.content
    patient.refresh_from_db()
    assert patient.email_opted_out_at is not None
    assert not patient.may_email
    assert patient.consent_withdrawn_at is None  # email contact only, not consent
    assert patient.history.first().history_change_reason == "Unsubscribed from email (link in an email)"
    assert not OutboundMessage.objects.filter(patient=patient, status=MessageStatus.PENDING).exists()
    assert set(
        OutboundMessage.objects.filter(patient=patient, status=MessageStatus.CANCELLED).values_list(
            "cancelled_reason", flat=True
        )
    ) == {"Patient unsubscribed from email"}
    assert UnsubscribeToken.objects.get().used_at is not None
    # Again: says so, changes nothing.
    again = client.get(unsubscribe_url)
    assert b"already unsubscribed" in again.content


def test_unknown_token_is_404(client, db):
    assert client.get("/unsubscribe/not-a-token/").status_code == 404
    assert client.post("/unsubscribe/not-a-token/").status_code == 404


def test_token_is_stored_only_as_a_salted_hash(unsubscribe_url):
    token = unsubscribe_url.rstrip("/").rsplit("/", 1)[1]
    row = UnsubscribeToken.objects.get()
    assert row.token_hash != token
    assert token not in row.token_hash
    from outcomes.models.questionnaire import hash_token

    assert row.token_hash != hash_token(token)  # a different purpose, a different salt


def test_the_page_is_the_patients_own_even_on_a_signed_in_clinic_computer(client, unsubscribe_url, clinician):
    client.force_login(clinician)
    html = client.get(unsubscribe_url).content.decode()
    assert 'aria-label="Main"' not in html  # no staff navigation
    assert "Sign out" not in html
    assert '<p class="q-brand">North Knee Clinic</p>' in html

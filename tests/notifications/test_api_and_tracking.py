"""Delivery per message: the read-only API (scoped, filterable) and the patient page's email list."""

import datetime as dt
import re

import pytest
from django.core import mail

from notifications import services
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import Timepoint
from outcomes.services import link_mark_opened, link_resolve
from tests.factories import PASSWORD, PatientFactory, make_injection
from tests.support.answers import complete

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages/"


@pytest.fixture
def one_month(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))
    return injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)


@pytest.fixture
def invitation(one_month):
    invitation = OutboundMessage.objects.get(follow_up=one_month, kind=MessageKind.INVITATION)
    services.messages_send([invitation.pk])
    invitation.refresh_from_db()
    return invitation


def test_api_lists_messages_of_my_clinics_with_delivery(api_as, clinician, invitation, patient):
    response = api_as(clinician).get(URL, {"patient": patient.registry_number, "status": "sent"})
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == invitation.pk
    assert row["kind"] == "invitation"
    assert row["delivery"] == "sent"
    assert row["patient"] == patient.registry_number
    assert "token" not in str(row).lower()
    by_id = api_as(clinician).get(URL, {"patient": patient.pk, "kind": "invitation"}).json()["results"]
    assert [r["id"] for r in by_id] == [invitation.pk]
    pending = api_as(clinician).get(URL, {"follow_up": invitation.follow_up_id, "status": "pending"}).json()
    # Opened 27 February, invited 2 March: reminder 1 (2 March) is not after the invitation, so never written.
    assert {r["kind"] for r in pending["results"]} == {"reminder_2", "final_reminder"}


def test_api_outsider_sees_none_and_detail_is_404(api_as, outsider, invitation):
    assert api_as(outsider).get(URL).json()["results"] == []
    assert api_as(outsider).get(f"{URL}{invitation.pk}/").status_code == 404


def test_api_is_read_only(api_as, clinician, auditor, invitation):
    assert api_as(auditor).get(f"{URL}{invitation.pk}/").status_code == 200
    assert api_as(clinician).post(URL, {}).status_code == 405
    assert api_as(clinician).delete(f"{URL}{invitation.pk}/").status_code == 405


def test_api_rejects_a_bad_status_filter(api_as, clinician, invitation):
    assert api_as(clinician).get(URL, {"status": "exploded"}).status_code == 400


def test_tracking_follows_the_link_opened_started_completed(invitation, one_month, django_capture_on_commit_callbacks):
    token = re.search(r"/q/([\w-]+)/", mail.outbox[0].body).group(1)
    assert invitation.delivery_state()[0] == "sent"
    link = link_resolve(token).link
    link_mark_opened(link=link)
    invitation.refresh_from_db()
    assert invitation.delivery_state()[0] == "opened"
    type(link).objects.filter(pk=link.pk).update(started_at=dt.datetime.now(dt.UTC))
    invitation.refresh_from_db()
    assert invitation.delivery_state()[0] == "started"
    with django_capture_on_commit_callbacks(execute=True):
        complete(one_month)
    invitation = OutboundMessage.objects.select_related("follow_up", "link").get(pk=invitation.pk)
    assert invitation.delivery_state() == ("completed", "Questionnaire completed")


def test_patient_page_shows_each_email_and_its_delivery(client, clinician, patient, one_month, failing_mail):
    failing_mail.error = services.TransportError("550 5.1.1 mailbox unavailable", permanent=True)
    invitation = OutboundMessage.objects.get(follow_up=one_month, kind=MessageKind.INVITATION)
    services.messages_send([invitation.pk])
    assert client.login(username=clinician.username, password=PASSWORD)
    response = client.get(f"/patients/{patient.registry_number}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Invitation" in body
    assert "Rejected: 550 5.1.1 mailbox unavailable" in body
    assert "Queued" in body  # the reminders


def test_patient_page_email_list_is_one_query(patient, invitation, django_assert_num_queries):
    from notifications.templatetags.notifications_tags import patient_messages

    for _ in range(3):
        PatientFactory(clinic=patient.clinic)
    with django_assert_num_queries(1):
        context = patient_messages(patient)
        states = [state for _, state, _ in context["rows"]]
    assert states.count("queued") == 2
    assert states.count("sent") == 1
    assert OutboundMessage.objects.filter(patient=patient, status=MessageStatus.PENDING).count() == 2


def test_patient_page_shows_receipts_without_a_query_per_message(
    client, clinician, patient, invitation, django_assert_max_num_queries
):
    """The delivery state from the providers' receipts is on each row: the page's queries do not grow with them."""
    assert client.login(username=clinician.username, password=PASSWORD)
    url = f"/patients/{patient.registry_number}/"
    client.get(url)
    with django_assert_max_num_queries(60) as few:
        client.get(url)
    rows = OutboundMessage.objects.filter(patient=patient)
    rows.filter(kind=MessageKind.INVITATION).update(delivery="failed_permanent", delivery_reason="No such mailbox")
    rows.exclude(kind=MessageKind.INVITATION).update(status=MessageStatus.SENT, delivery="delivered")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    body = response.content.decode()
    assert "Bounced: No such mailbox" in body
    assert body.count(">Delivered<") == rows.exclude(kind=MessageKind.INVITATION).count() >= 2

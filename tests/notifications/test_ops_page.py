"""The ops page: administrators only; stuck, rejected and retrying emails with their last errors; requeueing a
rejected one (audited, with a reason) and nothing else; a fixed number of queries however many rows."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessAction, AccessLog
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from registry.scoping import ADMINISTRATOR_GROUP
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OPS = reverse("notifications:ops")


def requeue_url(message):
    return reverse("notifications:ops-message-requeue", args=[message.pk])


def message(clinic, key, **fields):
    fields.setdefault("scheduled_for", timezone.now())
    return OutboundMessage.objects.create(kind=MessageKind.MISSED_DIGEST, clinic=clinic, dedupe_key=key, **fields)


@pytest.fixture
def outbox(clinic):
    now = timezone.now()
    return {
        "stuck": message(
            clinic,
            "stuck",
            status=MessageStatus.SENDING,
            claimed_by="task:dead",
            claimed_at=now - dt.timedelta(hours=1),
            lease_expires_at=now - dt.timedelta(minutes=58),
        ),
        "sending": message(
            clinic,
            "sending",
            status=MessageStatus.SENDING,
            claimed_by="task:live",
            claimed_at=now,
            lease_expires_at=now + dt.timedelta(minutes=2),
        ),
        "failed": message(
            clinic,
            "failed",
            status=MessageStatus.FAILED,
            attempts=1,
            last_error="Recipient refused (lead@north.example: 550 b'no such user')",
        ),
        "retrying": message(
            clinic,
            "retrying",
            attempts=2,
            scheduled_for=now + dt.timedelta(minutes=4),
            last_error="Mail server unreachable: SMTPServerDisconnected: gone",
        ),
        "sent": message(clinic, "sent", status=MessageStatus.SENT, sent_at=now),
    }


@pytest.mark.parametrize(
    ("persona", "status"),
    [("clinician", 403), ("lead", 403), ("auditor", 403), ("outsider", 403), ("admin_user", 200)],
)
def test_only_administrators_open_the_ops_page(client, request, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(OPS).status_code == status


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(OPS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_member_of_the_administrator_group_opens_it(client, db):
    user = UserFactory(username="registry_admin")
    user.groups.add(Group.objects.get_or_create(name=ADMINISTRATOR_GROUP)[0])
    client.force_login(user)
    assert client.get(OPS).status_code == 200


def test_shows_stuck_rejected_and_retrying_with_their_last_errors(client, admin_user, outbox):
    client.force_login(admin_user)
    page = client.get(OPS).content.decode()
    assert f'id="message-{outbox["stuck"].pk}"' in page
    assert f'id="message-{outbox["sending"].pk}"' not in page  # a live claim is not stuck
    assert f'id="message-{outbox["failed"].pk}"' in page
    assert "550 b&#x27;no such user&#x27;" in page
    assert "recipient refused" in page
    assert f'id="message-{outbox["retrying"].pk}"' in page
    assert "SMTPServerDisconnected: gone" in page
    assert f'action="{requeue_url(outbox["failed"])}"' in page
    assert f'action="{requeue_url(outbox["retrying"])}"' not in page  # only rejected ones offer a requeue


def test_requeue_makes_a_rejected_message_due_now_and_is_audited(client, admin_user, outbox):
    failed = outbox["failed"]
    client.force_login(admin_user)
    response = client.post(requeue_url(failed), {"reason": "Address corrected by the clinic"})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == MessageStatus.PENDING
    assert failed.scheduled_for <= timezone.now()
    assert failed.attempts == 0
    (log,) = AccessLog.objects.filter(action=AccessAction.REQUEUE)
    assert log.user == admin_user
    assert log.object_id == str(failed.pk)
    assert log.clinic_id == failed.clinic_id
    assert "Address corrected by the clinic" in log.detail
    assert "lead@north.example" not in log.detail  # the error named an address: it stays out of the trail
    assert log.method == "POST"


def test_the_requeue_is_in_the_audit_trail_of_the_messages_clinic(client, admin_user, auditor, outsider, outbox):
    from audit.trail import TrailFilter, recent_events

    client.force_login(admin_user)
    client.post(requeue_url(outbox["failed"]), {"reason": "Mail server fixed"})
    (event,) = [e for e in recent_events(auditor, TrailFilter()) if e.event == AccessAction.REQUEUE]
    assert event.record_id == str(outbox["failed"].pk)
    assert event.user == admin_user.username
    assert "Mail server fixed" in event.reason
    assert not [e for e in recent_events(outsider, TrailFilter()) if e.event == AccessAction.REQUEUE]


@pytest.mark.parametrize("state", ["stuck", "sending", "retrying", "sent"])
def test_requeue_refuses_a_message_that_is_not_rejected(client, admin_user, outbox, state):
    target = outbox[state]
    before = OutboundMessage.objects.values().get(pk=target.pk)
    client.force_login(admin_user)
    response = client.post(requeue_url(target), {"reason": "try again"})
    assert response.status_code == 409
    assert "only a rejected (failed) message can be requeued" in response.content.decode()
    assert OutboundMessage.objects.values().get(pk=target.pk) == before
    assert not AccessLog.objects.filter(action=AccessAction.REQUEUE).exists()


def test_requeue_needs_a_reason(client, admin_user, outbox):
    client.force_login(admin_user)
    response = client.post(requeue_url(outbox["failed"]), {"reason": "  "})
    assert response.status_code == 400
    assert "Give a reason" in response.content.decode()
    outbox["failed"].refresh_from_db()
    assert outbox["failed"].status == MessageStatus.FAILED


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "outsider"])
def test_nobody_else_may_requeue(client, request, outbox, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(requeue_url(outbox["failed"]), {"reason": "please"}).status_code == 403
    outbox["failed"].refresh_from_db()
    assert outbox["failed"].status == MessageStatus.FAILED


def test_requeue_is_post_only_and_checks_csrf(admin_user, outbox):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get(requeue_url(outbox["failed"])).status_code == 405
    assert client.post(requeue_url(outbox["failed"]), {"reason": "x"}).status_code == 403
    outbox["failed"].refresh_from_db()
    assert outbox["failed"].status == MessageStatus.FAILED


def test_the_page_costs_the_same_queries_for_many_rows(
    client, admin_user, clinic, other_clinic, django_assert_max_num_queries
):
    client.force_login(admin_user)
    client.get(OPS)  # the session and user are loaded once; count the page itself
    now = timezone.now()
    for n in range(30):
        target = clinic if n % 2 else other_clinic
        message(target, f"f{n}", status=MessageStatus.FAILED, last_error="Invalid address: x")
        message(target, f"r{n}", attempts=1, last_error="Mail server replied 421: later")
        message(target, f"s{n}", status=MessageStatus.SENDING, claimed_at=now - dt.timedelta(hours=2))
        message(target, f"d{n}", status=MessageStatus.SENT, delivery="failed_permanent", delivery_reason="Bounced")
        message(target, f"h{n}", held_reason="Daily limit reached", scheduled_for=now + dt.timedelta(hours=20))
    # Session and user (2), counts by state (1), the four lists with their clinics (4), the rows held by a daily
    # limit per clinic and channel (1), the header's "may write" (1), saving the session (3): none per row.
    with django_assert_max_num_queries(12):
        response = client.get(OPS)
    assert response.content.decode().count("Requeue #") == 30
    assert response.content.decode().count("Bounced: Bounced") == 30  # the "did not arrive" list


def test_the_page_shows_what_a_clinics_daily_limit_holds_back(client, admin_user, clinic, other_clinic):
    tomorrow = timezone.now() + dt.timedelta(hours=20)

    def patient_message(clinic, key, **fields):
        return OutboundMessage.objects.create(clinic=clinic, dedupe_key=key, scheduled_for=tomorrow, **fields)

    for n in range(3):
        patient_message(clinic, f"held-email-{n}", kind=MessageKind.INVITATION, held_reason="Daily limit reached")
    patient_message(clinic, "held-text", kind=MessageKind.REMINDER_1, channel="sms", held_reason="Daily limit reached")
    patient_message(other_clinic, "waiting", kind=MessageKind.INVITATION)  # queued, not held
    client.force_login(admin_user)
    page = client.get(OPS).content.decode()
    section = page.split('id="held-title"', 1)[1]
    assert '<span class="badge badge-warn">2</span>' in section  # email and text rows of one clinic
    rows = re.findall(r"<tr>\s*<td data-label=\"Clinic\">([^<]+)</td>\s*<td data-label=\"Channel\">([^<]+)</td>\s*"
                      r"<td data-label=\"Queued\">(\d+)</td>", section)  # fmt: skip
    assert rows == [("North Knee Clinic", "Email", "3"), ("North Knee Clinic", "Text message", "1")]
    assert "South Knee Clinic" not in section

"""The ops page in a real browser, with stuck, rejected and retrying emails on it: axe-core and the layout checks
at 1366 px and 390 px, then an administrator on a phone requeues a rejected email with a reason."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from tests.e2e.checks import page_problems
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD


def outbox(clinic):
    now = timezone.now()

    def add(key, **fields):
        fields.setdefault("scheduled_for", now)
        return OutboundMessage.objects.create(kind=MessageKind.MISSED_DIGEST, clinic=clinic, dedupe_key=key, **fields)

    add(
        "stuck",
        status=MessageStatus.SENDING,
        claimed_by="task:dead",
        claimed_at=now - dt.timedelta(hours=1),
        lease_expires_at=now - dt.timedelta(minutes=58),
    )
    add(
        "retrying",
        attempts=3,
        scheduled_for=now + dt.timedelta(minutes=4),
        last_error="Mail server unreachable: SMTPServerDisconnected: Connection unexpectedly closed",
    )
    return add(
        "failed",
        status=MessageStatus.FAILED,
        attempts=1,
        last_error="Recipient refused (a-very-long-address-of-the-clinic-lead@northgate-knee-clinic.example: 550 "
        "b'5.1.1 The email account that you tried to reach does not exist')",
    )


def test_the_ops_page_passes_axe_and_fits_a_phone(unwatched_page, live_server, sign_in, admin_user, clinic):
    outbox(clinic)
    failures = []
    for name, size in {"desktop": {"width": 1366, "height": 900}, "phone": PHONE}.items():
        page = unwatched_page(viewport=size)
        sign_in(page, admin_user, PASSWORD)
        response = page.goto(f"{live_server.url}/ops/")
        assert response.status == 200
        failures += page_problems(page, f"ops-{name}", layout_only=name == "phone")
    assert not failures, "\n".join(failures)


def test_an_administrator_requeues_a_rejected_email_on_a_phone(phone_page, live_server, sign_in, admin_user, clinic):
    failed = outbox(clinic)
    sign_in(phone_page, admin_user, PASSWORD)
    phone_page.goto(f"{live_server.url}/ops/")
    row = phone_page.locator(f"#message-{failed.pk}")
    row.get_by_label("Reason").fill("Address corrected by the clinic")
    row.get_by_role("button", name=f"Requeue #{failed.pk}").click()
    expect(phone_page.get_by_text(f"Message #{failed.pk} is queued again")).to_be_visible()
    expect(phone_page.locator(f"#message-{failed.pk}")).to_have_count(0)
    failed.refresh_from_db()
    assert failed.status == MessageStatus.PENDING

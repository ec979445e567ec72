"""Issue 4's "done means", on the embedded default: a user records an injection, the invitation lands in the
local mailbox (var/mailbox/ as .eml files), the link in it opens the questionnaire, and answering it completes
the follow-up and stops the reminders."""

import datetime as dt
import re
from email import message_from_bytes, policy

import pytest

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUpStatus, Timepoint
from registry.services import injection_record
from tests.factories import PASSWORD, injection_data
from tests.support.answers import answers_for
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    return settings.MAILBOX_DIR


def read_mailbox(folder):
    return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(folder.glob("*.eml"))]


def test_record_injection_see_invitation_open_link_complete(
    mailbox, settings, clock, patient, clinician, admin_user, client, django_capture_on_commit_callbacks
):
    # Planned for next week: the baseline questionnaire is open from today until the injection day.
    injection = injection_record(
        patient=patient,
        by=clinician,
        data=injection_data(clinician=clinician, injected_on=dt.date(2026, 3, 9), status="planned"),
    )
    baseline = injection.plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    sweep()  # what beat does every minute (the worker's own path is tested in test_worker.py)

    (email,) = read_mailbox(mailbox)
    assert email["To"] == patient.email
    assert "North Knee Clinic" in email["From"]
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    link = re.search(r"https?://[^/\s]+(/q/[\w-]+/)", text).group(1)
    assert link in html
    # The same email, as the administrator sees it on the development mailbox page.
    settings.SHOW_DEV_MAILBOX = True
    assert client.login(username=admin_user.username, password=PASSWORD)
    listing = client.get("/dev/mailbox/")
    assert listing.status_code == 200
    assert email["Subject"] in listing.content.decode()
    client.logout()

    page = client.get(link)
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link, answers_for(baseline))
    assert response.status_code in (200, 302, 303)
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.COMPLETED
    invitation = OutboundMessage.objects.select_related("link", "follow_up").get(
        follow_up=baseline, kind=MessageKind.INVITATION
    )
    assert invitation.delivery_state()[0] == "completed"
    assert not OutboundMessage.objects.filter(follow_up=baseline, status=MessageStatus.PENDING).exists()

    clock.move_to(at(2026, 3, 5, 10))  # reminder 1's day: nothing more arrives
    sweep()
    assert len(read_mailbox(mailbox)) == 1

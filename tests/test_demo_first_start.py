"""`make run`'s first start: the README promises a questionnaire link waiting in the dev mailbox. seed_demo makes
a patient treated in both knees today (her baseline invitations due now) and rundemo sends what is due before it
starts the worker and the web server, so the mailbox shows her one email listing both knees' questionnaires."""

import io
import re

import pytest
from django.core.management import call_command

from demo.management.commands import rundemo, seed_demo
from notifications.mailbox import read_mailbox
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import QuestionnaireLink
from outcomes.models.questionnaire import hash_token


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    settings.EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"  # what `make run` uses
    settings.SITE_URL = "http://127.0.0.1:8111"
    # Night in the clinic: outside the production sending hours the demo still shows its email at once.
    settings.NOTIFICATIONS_SENDING_HOURS = "09:00-09:01"
    monkeypatch.setenv("NOTIFICATIONS_SENDING_HOURS", "00:00-24:00")  # what rundemo sets for its processes
    call_command("seed_demo", "--injections", "40", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_first_start_has_a_questionnaire_link_for_each_knee_in_the_mailbox(demo):
    assert read_mailbox() == []  # seeding sends nothing
    rundemo.send_due_emails(io.StringIO())

    mine = [m for m in read_mailbox() if "grace.adeyemi@example.org" in m["to"]]
    assert len(mine) == 1
    (email,) = mine
    assert email["subject"].endswith("a short questionnaire about both your knees")
    text = email["text"]
    today_label = re.search(r"your left knee, injected on (\d+ \w+ \d{4})", text)
    assert today_label
    assert f"your right knee, injected on {today_label.group(1)}" in text
    links = re.findall(r"http://127\.0\.0\.1:8111/q/([\w-]+)/", text)
    assert len(set(links)) == 2
    knees = {QuestionnaireLink.objects.get(token_hash=hash_token(t)).follow_up.plan.knee for t in links}
    assert knees == {"left", "right"}

    rows = OutboundMessage.objects.filter(patient__full_name=seed_demo.BOTH_KNEES_PATIENT, kind=MessageKind.INVITATION)
    assert {r.status for r in rows} == {MessageStatus.SENT}
    assert len({r.email_message_id for r in rows}) == 1


@pytest.mark.django_db(transaction=True)
def test_first_start_shows_a_text_message_in_the_mailbox(demo, settings):
    settings.SMS_BACKEND = "notifications.sms.DevSmsBackend"  # what `make run` uses
    rundemo.send_due_emails(io.StringIO())
    (text,) = [m for m in read_mailbox() if m["subject"] == "Text message to +447700900077"]
    assert "Northgate Knee Clinic: please tell us how your knee is now" in text["text"]
    assert re.search(r"http://127\.0\.0\.1:8111/q/[\w-]{43}/", text["text"])
    both = OutboundMessage.objects.filter(patient__full_name=seed_demo.BOTH_KNEES_PATIENT)
    assert set(both.values_list("channel", flat=True)) == {"email"}  # email first; her texts come on days 7 and 12
    assert both.first().patient.may_text

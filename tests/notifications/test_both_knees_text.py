"""A patient treated in both knees who is reached by text gets one text, not two: it asks about both knees, carries
one link, and that link leads from one knee's questionnaire to the other's. Each row is still checked on its own
and recorded sent once, through a duplicate task and a worker that died after the provider took the text."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import OperationalError

from notifications import services
from notifications.models import Channel, DeliveryAttempt, MessageKind, MessageStatus, OutboundMessage
from notifications.services import sending
from notifications.sms import SmsBackend
from outcomes.models import FollowUpStatus, QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import LinkChannel, hash_token
from outcomes.services import link_token_next
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for, complete
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db

OPEN = at(2026, 3, 30, 9, 30)  # the one-month windows of injections on 2 March are open
LEASE = dt.timedelta(minutes=2)


class RecordingSms(SmsBackend):
    supports_stop = True
    sent: list[dict] = []

    def send_text(self, *, to, body, reference):
        RecordingSms.sent.append({"to": to, "body": body, "reference": reference})
        return f"rec-{len(RecordingSms.sent)}"


@pytest.fixture(autouse=True)
def texts_sent(settings):
    settings.SMS_BACKEND = "tests.notifications.test_both_knees_text.RecordingSms"
    settings.SAFETY_CHECKS_ENABLED = False
    RecordingSms.sent = []
    yield RecordingSms.sent
    RecordingSms.sent = []


@pytest.fixture
def both_knees(clock, clinic, clinician):
    """A patient reached by text only, both knees injected at one visit; a month later both questionnaires open."""
    patient = PatientFactory(
        clinic=clinic, phone="+447700900123", consent_sms_contact=True, consent_email_contact=False
    )
    plans = []
    for knee in ("left", "right"):
        plans.append(make_injection(patient, clinician, knee=knee, injected_on=dt.date(2026, 3, 2)).plan)
        clock.shift(dt.timedelta(minutes=3))
    clock.move_to(OPEN)
    services.followups_sweep(dispatch=lambda ids, claim: services.messages_release(claim=claim) and None)
    month = [plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH) for plan in plans]
    return patient, month


def text_invitations(patient):
    return list(
        OutboundMessage.objects.filter(
            patient=patient, channel=Channel.SMS, kind=MessageKind.INVITATION, follow_up__timepoint=Timepoint.ONE_MONTH
        ).order_by("id")
    )


def token_in(body: str) -> str:
    return re.search(r"/q/([\w-]+)/", body).group(1)


def test_the_texts_of_both_knees_are_planned_together(both_knees):
    patient, month = both_knees
    left, right = text_invitations(patient)
    assert (left.follow_up, right.follow_up) == tuple(month)
    assert left.scheduled_for == right.scheduled_for
    reminders = OutboundMessage.objects.filter(
        patient=patient, channel=Channel.SMS, kind=MessageKind.REMINDER_1, follow_up__timepoint=Timepoint.ONE_MONTH
    )
    assert len({m.scheduled_for for m in reminders}) == 1
    assert reminders.count() == 2


def test_one_text_asks_about_both_knees_with_one_link_and_both_rows_are_sent_once(both_knees, texts_sent):
    patient, month = both_knees
    assert sweep().send.sent == 2
    (text,) = texts_sent
    assert text["to"] == "+447700900123"
    assert "North Knee Clinic: please tell us how both your knees are now" in text["body"]
    assert len(re.findall(r"https?://", text["body"])) == 1  # one link
    assert text["body"].endswith("Reply STOP to opt out.")
    assert len(text["body"]) <= 2 * 153
    rows = text_invitations(patient)
    assert {row.status for row in rows} == {MessageStatus.SENT}
    assert {row.email_message_id for row in rows} == {text["reference"]}
    assert sorted(DeliveryAttempt.objects.filter(message__in=rows).values_list("message_id", flat=True)) == sorted(
        row.pk for row in rows
    )
    # The text's token opens the left knee's questionnaire; the right knee's link exists only as a hash, derived
    # from it. Each row records its own link.
    first = token_in(text["body"])
    left_link = QuestionnaireLink.objects.get(token_hash=hash_token(first))
    right_link = QuestionnaireLink.objects.get(token_hash=hash_token(link_token_next(first)))
    assert (left_link.follow_up, right_link.follow_up) == tuple(month)
    assert {left_link.channel, right_link.channel} == {LinkChannel.SMS}
    assert [row.link_id for row in rows] == [left_link.pk, right_link.pk]
    assert sweep().send.sent == 0
    assert len(texts_sent) == 1


def test_the_link_leads_from_one_knee_to_the_other(both_knees, texts_sent, client):
    _patient, (left, right) = both_knees
    sweep()
    first = token_in(texts_sent[0]["body"])
    second = link_token_next(first)
    assert client.get(f"/q/{first}/").status_code == 200
    response = client.post(f"/q/{first}/", answers_for(left))
    assert response.status_code == 302
    assert response["Location"] == f"/q/{second}/"
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    left.refresh_from_db()
    assert left.status == FollowUpStatus.COMPLETED
    # Opened again from the text, the link goes to the knee still to answer.
    again = client.get(f"/q/{first}/")
    assert (again.status_code, again["Location"]) == (302, f"/q/{second}/")
    response = client.post(f"/q/{second}/", answers_for(right))
    assert response["Location"].startswith("/q/thanks/")
    right.refresh_from_db()
    assert right.status == FollowUpStatus.COMPLETED
    assert client.get(f"/q/{first}/").status_code == 409  # both answered: the usual "already sent" page


def test_an_urgent_answer_shows_the_advice_before_the_other_knee(both_knees, texts_sent, client):
    _patient, (left, _right) = both_knees
    sweep()
    first = token_in(texts_sent[0]["body"])
    response = client.post(f"/q/{first}/", answers_for(left, **{"SAFETY.fever": "yes"}))
    assert response["Location"].startswith("/q/thanks/")  # the page that says to get care today


def test_a_patient_past_the_year_of_birth_check_is_past_it_for_the_other_knee(both_knees, texts_sent, client, clinic):
    clinic.link_requires_year_of_birth = True
    clinic.save()
    _patient, (left, _right) = both_knees
    sweep()
    first = token_in(texts_sent[0]["body"])
    assert client.post(f"/q/{first}/check/", {"year_of_birth": "1960"}).status_code == 302
    response = client.post(f"/q/{first}/", answers_for(left))
    second_page = client.get(response["Location"])
    assert second_page.status_code == 200
    assert "year_of_birth" not in second_page.content.decode()


def test_an_email_link_leads_nowhere_else(clock, clinic, clinician, client):
    """Emails list a link per knee: submitting one never redirects to another questionnaire."""
    patient = PatientFactory(clinic=clinic)
    for knee in ("left", "right"):
        make_injection(patient, clinician, knee=knee, injected_on=dt.date(2026, 3, 2))
    clock.move_to(OPEN)
    from django.core import mail

    sweep()
    body = next(m.body for m in mail.outbox if "both your knees" in m.subject)
    token = token_in(body)
    follow_up = QuestionnaireLink.objects.get(token_hash=hash_token(token)).follow_up
    response = client.post(f"/q/{token}/", answers_for(follow_up))
    assert response["Location"].startswith("/q/thanks/")


def test_a_row_that_fails_its_own_check_is_left_out_of_the_text(both_knees, texts_sent):
    patient, (left, right) = both_knees
    ids, claim = services.messages_claim()
    complete(left)  # answered at the clinic while the batch waited for a worker
    assert services.messages_send(ids, claim=claim).sent == 1
    (text,) = texts_sent
    assert "how your knee is now" in text["body"]
    left_row, right_row = text_invitations(patient)
    assert (left_row.status, left_row.cancelled_reason) == (MessageStatus.CANCELLED, "Questionnaire already completed")
    assert right_row.status == MessageStatus.SENT
    assert QuestionnaireLink.objects.get(token_hash=hash_token(token_in(text["body"]))).follow_up == right


def test_a_duplicate_of_the_send_task_sends_nothing_more(both_knees, texts_sent):
    patient, _ = both_knees
    ids, claim = services.messages_claim()  # the two texts (and the emails the patient cannot get: not sent)
    assert services.messages_send(ids, claim=claim, task_id="send-1").sent == 2
    # The broker delivers the same task again (a worker lost the acknowledgement): nothing is left to take.
    assert services.messages_send(ids, claim=claim, task_id="send-1").sent == 0
    assert services.messages_send(ids, claim=claim, task_id="send-1", retries=1).sent == 0
    assert len(texts_sent) == 1
    assert DeliveryAttempt.objects.filter(message__patient=patient, outcome="sent").count() == 2


def test_a_worker_that_died_after_the_provider_took_the_text_is_resent_once_with_the_same_reference(
    both_knees, texts_sent, monkeypatch, clock
):
    """The one window no database closes (sending.py): the provider took the text, the worker died before the
    record. The task's retry leaves it alone; the sweep sends it once more after the lease, same reference."""
    patient, _ = both_knees
    ids, claim = services.messages_claim()

    def worker_dies(rows, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sending, "_record_sent", worker_dies)
    with pytest.raises(OperationalError):
        services.messages_send(ids, claim=claim, task_id="send-1")
    monkeypatch.undo()
    assert len(texts_sent) == 1
    rows = text_invitations(patient)
    assert {row.status for row in rows} == {MessageStatus.SENDING}
    assert all(row.handed_over_at for row in rows)
    assert services.messages_send(ids, claim=claim, task_id="send-1", retries=1).sent == 0
    assert len(texts_sent) == 1
    with time_machine.travel(OPEN + LEASE + dt.timedelta(minutes=1), tick=False):
        assert sweep().send.sent == 2
    assert len(texts_sent) == 2
    assert texts_sent[0]["reference"] == texts_sent[1]["reference"]
    rows = text_invitations(patient)
    assert {row.status for row in rows} == {MessageStatus.SENT}
    assert DeliveryAttempt.objects.filter(message__in=rows, outcome="sent").count() == 2

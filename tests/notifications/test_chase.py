"""The chase list at /chase/: open follow-ups the emails did not bring in, soonest-closing first, scoped to the
user's clinics, with one-tap call outcomes."""

import datetime as dt

import pytest
from django.core import mail  # noqa: F401 - the locmem outbox is reset per test
from django.utils import timezone

from notifications.models import CallAttempt, CallOutcome, MessageStatus, OutboundMessage
from notifications.selectors import chase_list_for, missed_for
from outcomes.models import Timepoint
from tests.factories import PASSWORD, PatientFactory, make_injection
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db
URL = "/chase/"


def one_month_of(patient, clinician, injected_on):
    injection = make_injection(patient, clinician, injected_on=injected_on)
    return injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)


@pytest.fixture
def chased(clock, clinic, clinician):
    """Two patients whose one-month emails have all gone unanswered, and one still being reminded."""
    late = one_month_of(PatientFactory(clinic=clinic, phone="0161 000 0001"), clinician, dt.date(2026, 2, 2))
    soon = one_month_of(PatientFactory(clinic=clinic, phone="0161 000 0002"), clinician, dt.date(2026, 1, 30))
    fresh = one_month_of(PatientFactory(clinic=clinic), clinician, dt.date(2026, 2, 5))
    for follow_up in (late, soon):
        OutboundMessage.objects.filter(follow_up=follow_up).update(status=MessageStatus.SENT)
    sweep()
    return late, soon, fresh


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_list_shows_unanswered_after_the_last_email_closing_soonest_first(client, chased, clinician):
    late, soon, fresh = chased
    assert list(chase_list_for(clinician)) == [soon, late]
    response = login(client, clinician).get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(soon.patient.registry_number) < body.index(late.patient.registry_number)
    assert fresh.patient.registry_number not in body
    assert "0161 000 0002" in body
    assert soon.patient.full_name in body
    assert f"/follow-ups/{soon.pk}/enter/" in body or f"follow-ups/{soon.pk}" in body


def test_patients_who_cannot_be_emailed_are_on_the_list_at_once(clock, clinic, clinician):
    no_email = one_month_of(PatientFactory(clinic=clinic, email=""), clinician, dt.date(2026, 2, 5))
    emailed = one_month_of(PatientFactory(clinic=clinic), clinician, dt.date(2026, 2, 5))
    assert list(chase_list_for(clinician)) == [no_email]  # no point waiting for emails that cannot go
    sweep()  # the send-time check cancels all of its emails, with the reason
    reasons = set(OutboundMessage.objects.filter(follow_up=no_email).values_list("cancelled_reason", flat=True))
    assert reasons == {"No email address on record"}
    assert list(chase_list_for(clinician)) == [no_email]
    assert emailed.messages.filter(status=MessageStatus.PENDING).exists()


def test_recording_a_call(client, chased, clinician):
    late, soon, _ = chased
    response = login(client, clinician).post(
        f"/chase/{soon.pk}/calls/", {"outcome": CallOutcome.NO_ANSWER, "note": "Left voicemail"}
    )
    assert response.status_code == 302
    assert response.url.endswith(f"#fu-{soon.pk}")
    attempt = CallAttempt.objects.get()
    assert (attempt.follow_up, attempt.called_by, attempt.outcome, attempt.note) == (
        soon,
        clinician,
        CallOutcome.NO_ANSWER,
        "Left voicemail",
    )
    rows = list(chase_list_for(clinician))
    assert rows == [soon, late]
    assert rows[0].call_count == 1
    assert rows[0].last_call_outcome == "no_answer"

    login(client, clinician).post(f"/chase/{soon.pk}/calls/", {"outcome": CallOutcome.DECLINED})
    assert list(chase_list_for(clinician)) == [late]


def test_bad_outcome_is_refused(client, chased, clinician):
    _, soon, _ = chased
    response = login(client, clinician).post(f"/chase/{soon.pk}/calls/", {"outcome": "shouted"}, follow=True)
    assert not CallAttempt.objects.exists()
    assert b"Choose one of" in response.content


def test_outsider_sees_nothing_and_cannot_record(client, chased, outsider):
    _, soon, _ = chased
    response = login(client, outsider).get(URL)
    assert soon.patient.registry_number not in response.content.decode()
    assert client.post(f"/chase/{soon.pk}/calls/", {"outcome": CallOutcome.NO_ANSWER}).status_code == 404
    assert not CallAttempt.objects.exists()


def test_auditor_reads_but_cannot_record(client, chased, auditor):
    _, soon, _ = chased
    response = login(client, auditor).get(URL)
    assert soon.patient.registry_number in response.content.decode()
    assert "Read only" in response.content.decode()
    assert client.post(f"/chase/{soon.pk}/calls/", {"outcome": CallOutcome.NO_ANSWER}).status_code == 403
    assert not CallAttempt.objects.exists()


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert "login" in response.url


def test_list_query_count_does_not_grow(client, chased, clinician, clinic, django_assert_max_num_queries):
    login(client, clinician)
    client.get(URL)
    for day in (3, 4, 5):
        follow_up = one_month_of(PatientFactory(clinic=clinic), clinician, dt.date(2026, 2, day))
        OutboundMessage.objects.filter(follow_up=follow_up).update(status=MessageStatus.SENT)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert response.content.decode().count('<tr id="fu-') == 5


def test_missed_selector_for_the_dashboard(clock, clinic, clinician, outsider):
    baseline = make_injection(
        PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 2)
    ).plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    clock.move_to(at(2026, 3, 6))  # the baseline may be answered up to 3 days after the injection
    sweep()
    assert list(missed_for(clinician)) == [baseline]
    assert list(missed_for(outsider)) == []


def did_not_arrive(follow_up, *, state="failed_permanent", reason="No such mailbox", channel="email"):
    """The provider's receipt said this follow-up's invitation did not arrive (set as receipt_record leaves it)."""
    OutboundMessage.objects.filter(follow_up=follow_up, kind="invitation", channel=channel).update(
        status=MessageStatus.SENT, delivery=state, delivery_reason=reason, delivery_updated_at=timezone.now()
    )


def test_patients_whose_messages_did_not_arrive_come_first(client, chased, clinician):
    late, soon, fresh = chased
    assert list(chase_list_for(clinician)) == [soon, late]  # closing soonest first
    did_not_arrive(late)
    # The bounce puts `late` before `soon`, and `fresh` (its reminders still queued) on the list at once, after
    # `late` (both did not arrive: then the window closing soonest).
    did_not_arrive(fresh, state="failed_temporary", reason="Twilio error 30003: phone switched off or unreachable")
    rows = list(chase_list_for(clinician))
    assert rows == [late, fresh, soon]
    assert [r.not_arrived for r in rows] == [True, True, False]
    assert rows[0].not_arrived_reason == "No such mailbox"
    body = login(client, clinician).get(URL).content.decode()
    assert body.index(late.patient.registry_number) < body.index(soon.patient.registry_number)
    assert "Email did not arrive" in body
    assert "No such mailbox" in body


def test_a_delivered_message_does_not_move_anyone_up(chased, clinician):
    late, soon, _ = chased
    did_not_arrive(late, state="delivered", reason="")
    assert list(chase_list_for(clinician)) == [soon, late]


def test_list_with_undelivered_rows_query_count_does_not_grow(
    client, chased, clinician, clinic, django_assert_max_num_queries
):
    login(client, clinician)
    late, _soon, _ = chased
    did_not_arrive(late)
    client.get(URL)
    for day in (3, 4, 5):
        follow_up = one_month_of(PatientFactory(clinic=clinic), clinician, dt.date(2026, 2, day))
        OutboundMessage.objects.filter(follow_up=follow_up).update(status=MessageStatus.SENT)
        did_not_arrive(follow_up)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert response.content.decode().count("did not arrive</span>") == 4

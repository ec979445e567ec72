"""The sweep: one invitation when a follow-up opens, reminders on schedule, none after completion, missed after
closing; each message once, however often the sweep runs; work that does not grow with the registry."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUpStatus, Timepoint
from tests.factories import PatientFactory, make_injection
from tests.support.answers import complete
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db


def kinds_sent(follow_up):
    return list(
        OutboundMessage.objects.filter(follow_up=follow_up, status=MessageStatus.SENT)
        .order_by("sent_at", "id")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def one_month(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2))
    return injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)


def test_baseline_open_at_recording_is_invited_at_once(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 9))
    baseline = injection.plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    assert baseline.status == FollowUpStatus.OPEN
    invitation = OutboundMessage.objects.get(follow_up=baseline, kind=MessageKind.INVITATION)
    assert invitation.status == MessageStatus.PENDING
    # Opened 2 March, closes 9 March: reminder 1 on the 5th, the final one on the 6th (3 days before closing);
    # reminder 2 (the 9th) would come after the final one, so it is never written.
    kinds = set(OutboundMessage.objects.filter(follow_up=baseline).values_list("kind", flat=True))
    assert kinds == {MessageKind.INVITATION, MessageKind.REMINDER_1, MessageKind.FINAL_REMINDER}
    sweep()
    assert kinds_sent(baseline) == [MessageKind.INVITATION]
    assert mail.outbox[0].to == [patient.email]


def test_one_invitation_when_the_follow_up_opens_and_reminders_on_schedule(clock, one_month, patient):
    sweep()
    assert not OutboundMessage.objects.filter(follow_up=one_month).exists()  # not open yet

    clock.move_to(at(2026, 3, 30, 0, 5))  # the window opens at midnight, but nobody is emailed at night
    report = sweep()
    assert report.opened >= 1
    assert report.invitations >= 1
    assert kinds_sent(one_month) == []
    invitation = OutboundMessage.objects.get(follow_up=one_month, kind=MessageKind.INVITATION)
    assert invitation.scheduled_for == at(2026, 3, 30, 9, 0)

    clock.move_to(at(2026, 3, 30, 9, 1))
    sweep()
    sweep()  # a duplicate beat tick
    assert kinds_sent(one_month) == [MessageKind.INVITATION]

    for day in (31, 1):
        clock.move_to(at(2026, 3, day) if day == 31 else at(2026, 4, day))
        sweep()
    assert kinds_sent(one_month) == [MessageKind.INVITATION]

    clock.move_to(at(2026, 4, 2, 9, 30))  # opened + 3 days
    sweep()
    assert kinds_sent(one_month) == [MessageKind.INVITATION, MessageKind.REMINDER_1]
    clock.move_to(at(2026, 4, 6, 11))  # opened + 7 days
    sweep()
    clock.move_to(at(2026, 4, 20, 11))  # closes 23 April, 3 days before
    sweep()
    sweep()
    assert kinds_sent(one_month) == [
        MessageKind.INVITATION,
        MessageKind.REMINDER_1,
        MessageKind.REMINDER_2,
        MessageKind.FINAL_REMINDER,
    ]

    clock.move_to(at(2026, 4, 24, 0, 1))
    report = sweep()
    one_month.refresh_from_db()
    assert one_month.status == FollowUpStatus.MISSED
    assert report.missed >= 1
    one_month_mail = [m for m in mail.outbox if "questionnaire" in m.subject.lower()]
    assert len(one_month_mail) == 1 + 4  # the baseline invitation on 2 March, then these four


def test_completion_stops_reminders_at_once(clock, one_month, django_capture_on_commit_callbacks):
    clock.move_to(at(2026, 3, 30, 10))
    sweep()
    assert kinds_sent(one_month) == [MessageKind.INVITATION]
    with django_capture_on_commit_callbacks(execute=True):
        complete(one_month)
    pending = OutboundMessage.objects.filter(follow_up=one_month, status=MessageStatus.PENDING)
    assert not pending.exists()
    cancelled = OutboundMessage.objects.filter(follow_up=one_month, status=MessageStatus.CANCELLED)
    assert set(cancelled.values_list("cancelled_reason", flat=True)) == {"Questionnaire completed"}
    for when in (at(2026, 4, 2), at(2026, 4, 6), at(2026, 4, 20), at(2026, 4, 24)):
        clock.move_to(when)
        sweep()
    assert kinds_sent(one_month) == [MessageKind.INVITATION]
    one_month.refresh_from_db()
    assert one_month.status == FollowUpStatus.COMPLETED


@pytest.mark.parametrize("failure", ["exception", "database error"])
def test_a_failing_reminder_stop_never_loses_the_submission(clock, one_month, monkeypatch, failure):
    """Stopping the reminders runs in the submission's transaction; if it fails (a bug, a broken statement that
    aborts a PostgreSQL transaction) the patient's answers are stored all the same, and the send-time check
    is the safety net: the reminder still waiting is cancelled when its turn comes, not sent."""
    from notifications import receivers

    clock.move_to(at(2026, 3, 30, 10))
    sweep()

    def broken_cancel(**kwargs):
        if failure == "database error":
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
        raise RuntimeError("receiver bug")

    monkeypatch.setattr(receivers.services, "messages_cancel", broken_cancel)
    submission = complete(one_month)
    monkeypatch.undo()

    one_month.refresh_from_db()
    assert one_month.status == FollowUpStatus.COMPLETED
    assert one_month.submission.pk == submission.pk
    assert OutboundMessage.objects.filter(follow_up=one_month, status=MessageStatus.PENDING).exists()
    clock.move_to(at(2026, 4, 2, 11))  # reminder 1 is due: the send-time check stops it
    sweep()
    assert kinds_sent(one_month) == [MessageKind.INVITATION]
    assert OutboundMessage.objects.filter(follow_up=one_month, status=MessageStatus.CANCELLED).exists()


def test_missed_cancels_pending_reminders(clock, one_month, settings):
    settings.NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE = 0
    settings.NOTIFICATIONS_REMINDER_DAYS = [3, 30]  # the second reminder would fall after closing: never written
    clock.move_to(at(2026, 3, 30, 10))
    sweep()
    assert set(OutboundMessage.objects.filter(follow_up=one_month).values_list("kind", flat=True)) == {
        MessageKind.INVITATION,
        MessageKind.REMINDER_1,
    }
    # Reminder 1 is due on 2 April; make the window close before it goes.
    OutboundMessage.objects.filter(follow_up=one_month, kind=MessageKind.REMINDER_1).update(
        scheduled_for=at(2026, 4, 30)
    )
    clock.move_to(at(2026, 4, 24, 0, 1))
    sweep()
    reminder = OutboundMessage.objects.get(follow_up=one_month, kind=MessageKind.REMINDER_1)
    assert reminder.status == MessageStatus.CANCELLED
    assert reminder.cancelled_reason == "Questionnaire window closed unanswered"


def test_sending_hours_follow_the_clinic_time_zone(clock, clinician, clinic):
    clinic.time_zone = "America/New_York"
    clinic.save()
    patient = PatientFactory(clinic=clinic)
    # 10:00 in London is 05:00 in New York: the baseline invitation waits for 09:00 there.
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 9))
    baseline = injection.plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    invitation = OutboundMessage.objects.get(follow_up=baseline, kind=MessageKind.INVITATION)
    assert invitation.scheduled_for.astimezone(clinic.tzinfo).time() == dt.time(9, 0)
    sweep()
    assert not mail.outbox


def _registry_of(size, clinician, clinic):
    for _ in range(size):
        make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 2))


def _sweep_queries(clock, when):
    clock.move_to(when)
    with CaptureQueriesContext(connection) as queries:
        report = sweep()
    return len(queries), report


def test_sweep_queries_do_not_grow_with_the_registry(clock, clinician, clinic, settings):
    """Nothing due: the same handful of queries for a registry of 2 or of 30 plans (each with 3 follow-ups)."""
    _registry_of(2, clinician, clinic)
    sweep()  # baseline invitations
    clock.move_to(at(2026, 3, 20))
    sweep()  # the baselines close
    small, _ = _sweep_queries(clock, at(2026, 3, 21))
    _registry_of(28, clinician, clinic)
    sweep()
    large, report = _sweep_queries(clock, at(2026, 3, 22))
    assert report.claimed == 0
    assert small == large
    assert large <= 8


def test_scheduling_queries_do_not_grow_with_what_opens(clock, clinician, clinic):
    """Opening 2 or 20 follow-ups at once writes their rows in bulk and claims them in one batch: the same
    number of queries besides the bulk INSERTs (sending itself is per message, and left out here)."""
    for size, day in ((2, 2), (20, 3)):
        for _ in range(size):
            make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 4, day))
    clock.move_to(at(2026, 4, 28))
    sweep()  # the baselines close
    measured = []
    for when in (at(2026, 4, 29), at(2026, 4, 30)):  # each cohort's one-month window opens
        clock.move_to(when)
        with CaptureQueriesContext(connection) as queries:
            report = services.followups_sweep(dispatch=lambda ids, claim: None)
        sql = [q["sql"] for q in queries.captured_queries]
        inserts = [q for q in sql if q.startswith("INSERT")]
        # bulk_create's own batching (SQLite caps the parameters per statement, so the rows per INSERT shrink as
        # the outbox gains columns); PostgreSQL writes them all with one COPY and one INSERT.
        rows = report.invitations + report.reminders
        fields = [f for f in OutboundMessage._meta.concrete_fields if not f.primary_key]
        per_insert = connection.ops.bulk_batch_size(fields, [None] * rows) or rows
        assert len(inserts) <= -(-rows // per_insert) + 1
        measured.append((len(sql) - len(inserts), report.opened, report.claimed))
    (small, opened_small, claimed_small), (large, opened_large, claimed_large) = measured
    assert (opened_small, opened_large) == (2, 20)
    # The first cohort's claim was never finished (nothing sent them) and timed out: claimed again, once.
    assert (claimed_small, claimed_large) == (2, 22)
    assert small == large

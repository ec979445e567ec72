"""Every due email exactly once through database blips, dead workers and lost tasks, and back on its way within
minutes: the "sent" record survives a dead connection, untried rows are given back, a retried task takes back its
own rows, a live worker keeps its batch by renewing the lease, and a dead one's batch is claimed again by the next
sweep once the lease runs out. On PostgreSQL the blip is real: the test's own session is terminated."""

import datetime as dt
import logging
import smtplib

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.locmem import EmailBackend
from django.db import InterfaceError, OperationalError, connection

from notifications import conf, services, tasks
from notifications.models import AttemptOutcome, DeliveryAttempt, MessageStatus, OutboundMessage
from notifications.services import sending
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at
from tests.support.outbox import sweep

START = at(2026, 3, 5, 10)  # each patient's invitation and first reminder are due
LEASE = dt.timedelta(minutes=2)  # the default NOTIFICATIONS_CLAIM_LEASE_SECONDS

on_postgres = pytest.mark.needs_services("postgres")


@pytest.fixture(autouse=True)
def tidy_connection(transactional_db):
    yield
    connection.close()  # as Celery's Django fix-up does after a task: a dead connection is not handed on


@pytest.fixture
def clock_start(transactional_db):  # the clock (tests/support/clock.py) starts here, over a transactional database
    return START


def due_messages(clinic, clinician, patients: int) -> list[int]:
    """Two due emails per patient (invitation and first reminder), oldest first."""
    for _ in range(patients):
        with time_machine.travel(at(2026, 3, 2, 10), tick=False):
            make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 9))
    ids = list(
        OutboundMessage.objects.filter(status=MessageStatus.PENDING, scheduled_for__lte=START).values_list(
            "id", flat=True
        )
    )
    assert len(ids) == 2 * patients
    return ids


def kill_our_database_connection() -> None:
    """What a database restart or failover does to a worker: its session is terminated under it (our own
    session on the test database only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    except (OperationalError, InterfaceError):
        pass


def emails_per_address() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for email in mail.outbox:
        key = (email.to[0], email.subject)
        counts[key] = counts.get(key, 0) + 1
    return counts


def assert_each_sent_once(ids: list[int]) -> None:
    rows = OutboundMessage.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert DeliveryAttempt.objects.filter(message_id__in=ids, outcome=AttemptOutcome.SENT).count() == len(ids)
    assert len(mail.outbox) == len(ids)
    assert set(emails_per_address().values()) == {1}  # nobody got anything twice


# --- the "sent" record survives a dead connection ----------------------------------------------------------------


@on_postgres
def test_sent_is_recorded_once_when_the_connection_dies_after_the_mail_server_accepted(
    clock, clinic, clinician, monkeypatch
):
    ids = due_messages(clinic, clinician, patients=2)
    claimed, claim = services.messages_claim()
    original = EmailBackend.send_messages

    def accept_then_lose_the_database(self, messages):
        accepted = original(self, messages)
        kill_our_database_connection()  # every email: the worst case
        return accepted

    monkeypatch.setattr(EmailBackend, "send_messages", accept_then_lose_the_database)
    result = services.messages_send(claimed, claim=claim)
    monkeypatch.setattr(EmailBackend, "send_messages", original)

    assert result.sent == 4
    assert_each_sent_once(ids)
    assert not OutboundMessage.objects.exclude(handed_over_at=None).exists()
    # Nothing is left for a redelivered task or a later sweep to send again.
    assert services.messages_send(claimed, claim=claim).sent == 0
    clock.move_to(START + LEASE + dt.timedelta(minutes=30))
    assert sweep().claimed == 0
    assert len(mail.outbox) == 4


@on_postgres
def test_an_email_for_both_knees_is_recorded_once_on_both_rows_after_the_blip(clock, clinic, clinician, monkeypatch):
    patient = PatientFactory(clinic=clinic)
    for minute, knee in ((0, "left"), (4, "right")):
        with time_machine.travel(at(2026, 3, 2, 10, minute), tick=False):
            make_injection(patient, clinician, knee=knee, injected_on=dt.date(2026, 3, 9))
    claimed, claim = services.messages_claim()
    assert len(claimed) == 4  # both knees' invitations and first reminders: two emails
    original = EmailBackend.send_messages

    def accept_then_lose_the_database(self, messages):
        accepted = original(self, messages)
        kill_our_database_connection()
        return accepted

    monkeypatch.setattr(EmailBackend, "send_messages", accept_then_lose_the_database)
    assert services.messages_send(claimed, claim=claim).sent == 4
    monkeypatch.undo()
    assert len(mail.outbox) == 2
    rows = OutboundMessage.objects.filter(pk__in=claimed)
    assert set(rows.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert DeliveryAttempt.objects.filter(message_id__in=claimed).count() == 4
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == set(rows.values_list("email_message_id", flat=True))
    clock.move_to(START + LEASE + dt.timedelta(minutes=30))
    assert sweep().claimed == 0
    assert len(mail.outbox) == 2


# --- a failing batch gives back what it never tried ---------------------------------------------------------------


def _lose_the_database_at(monkeypatch, nth: int) -> None:
    """The connection dies while the batch prepares its `nth` email (before it reaches the mail server)."""
    original = sending._mint_link
    calls = []

    def mint(message):
        calls.append(message.pk)
        if len(calls) == nth:
            kill_our_database_connection()
        return original(message)

    monkeypatch.setattr(sending, "_mint_link", mint)


@on_postgres
def test_untried_rows_are_released_on_a_fresh_connection(clock, clinic, clinician, monkeypatch):
    ids = due_messages(clinic, clinician, patients=2)
    claimed, claim = services.messages_claim()
    _lose_the_database_at(monkeypatch, nth=2)

    with pytest.raises(OperationalError):
        services.messages_send(claimed, claim=claim, task_id="send-1", retries=0)
    monkeypatch.undo()

    assert len(mail.outbox) == 1
    rows = OutboundMessage.objects.filter(pk__in=ids).order_by("id")
    assert [row.status for row in rows] == [MessageStatus.SENT] + [MessageStatus.PENDING] * 3
    assert all(row.claimed_by == "" and row.lease_expires_at is None for row in rows[1:])
    # Given back at once: the next sweep (or the task's retry) sends them without waiting for any lease.
    report = sweep()
    assert report.claimed == 3
    assert_each_sent_once(ids)


# --- a retried task takes back its own claim, a duplicate delivery takes nothing -------------------------------


@on_postgres
def test_a_retried_task_takes_back_its_own_rows_and_a_duplicate_takes_nothing(clock, clinic, clinician, monkeypatch):
    ids = due_messages(clinic, clinician, patients=2)
    claimed, claim = services.messages_claim()
    _lose_the_database_at(monkeypatch, nth=2)

    def database_still_down(token):
        raise OperationalError("the database is still restarting")

    monkeypatch.setattr(sending, "_release_untried", database_still_down)
    with pytest.raises(OperationalError):
        services.messages_send(claimed, claim=claim, task_id="send-1", retries=0)
    monkeypatch.undo()
    connection.close()  # Celery's Django fix-up closes an unusable connection after the task
    held = OutboundMessage.objects.filter(status=MessageStatus.SENDING)
    assert held.count() == 3  # still the first run's: nothing could give them back
    assert {row.claimed_by.rsplit(":", 1)[0] for row in held} == {"task:send-1:0"}

    # Celery's automatic retry: same task id, next retry number. It takes exactly its own rows back at once.
    tasks.send_batch.apply(args=(claimed, claim), task_id="send-1", retries=1, throw=True)
    assert_each_sent_once(ids)
    # The broker redelivers the first run, and the retry, after all that: nothing left to take.
    assert services.messages_send(claimed, claim=claim, task_id="send-1", retries=0).sent == 0
    assert services.messages_send(claimed, claim=claim, task_id="send-1", retries=1).sent == 0
    assert services.messages_send(claimed, claim=claim, task_id="send-1", retries=2).sent == 0
    assert len(mail.outbox) == 4


@on_postgres
def test_a_duplicate_of_a_running_task_sends_nothing(clock, clinic, clinician, monkeypatch):
    """The broker hands the same task (same id, same retry number) to a second worker while the first runs."""
    ids = due_messages(clinic, clinician, patients=2)
    claimed, claim = services.messages_claim()
    original = EmailBackend.send_messages
    duplicate = []

    def send_and_meanwhile_run_the_duplicate(self, messages):
        if not duplicate:
            duplicate.append(services.messages_send(claimed, claim=claim, task_id="send-1", retries=0))
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_and_meanwhile_run_the_duplicate)
    result = services.messages_send(claimed, claim=claim, task_id="send-1", retries=0)
    assert duplicate[0].sent == 0
    assert result.sent == 4
    assert_each_sent_once(ids)


@on_postgres
def test_a_retry_never_resends_what_its_earlier_run_handed_to_the_mail_server(clock, clinic, clinician, monkeypatch):
    """The unavoidable window, kept as small as it can be: the mail server accepted the first email and the
    database stayed down past the record's retries. The retry leaves that row alone (it sends the others); only
    the sweep takes it again, once its lease runs out, with the same Message-ID."""
    ids = due_messages(clinic, clinician, patients=1)
    claimed, claim = services.messages_claim()

    def database_down_for_good(message, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(sending, "_record_sent", database_down_for_good)
    with pytest.raises(OperationalError):
        services.messages_send(claimed, claim=claim, task_id="send-1", retries=0)
    monkeypatch.undo()
    first, second = OutboundMessage.objects.filter(pk__in=ids).order_by("id")
    assert (first.status, second.status) == (MessageStatus.SENDING, MessageStatus.PENDING)
    assert first.handed_over_at is not None
    assert first.email_message_id

    assert services.messages_send(claimed, claim=claim, task_id="send-1", retries=1).sent == 1  # the second only
    first.refresh_from_db()
    assert first.status == MessageStatus.SENDING
    assert len(mail.outbox) == 2

    clock.move_to(START + LEASE - dt.timedelta(seconds=1))
    assert sweep().claimed == 0
    clock.move_to(START + LEASE + dt.timedelta(seconds=1))
    assert sweep().send.sent == 1
    assert [m.extra_headers["Message-ID"] for m in mail.outbox].count(first.email_message_id) == 2


# --- leases: a live worker keeps its batch, a dead one's is claimed again within the lease -----------------------


def test_a_live_batch_renews_its_lease_so_a_concurrent_sweep_never_takes_it(
    clock, clinic, clinician, monkeypatch, caplog
):
    ids = due_messages(clinic, clinician, patients=6)
    claimed, claim = services.messages_claim()
    original = EmailBackend.send_messages
    taken_meanwhile = []

    def slow_mail_server(self, messages):
        # A sweep runs while this email is with the mail server, then the hand-over takes 90 seconds: the batch
        # of 12 takes 18 minutes, far beyond one lease (2 minutes) and the old fixed timeout (15).
        taken_meanwhile.extend(services.messages_claim()[0])
        clock.shift(dt.timedelta(seconds=90))
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", slow_mail_server)
    with caplog.at_level(logging.INFO, logger="notifications.services.sending"):
        result = services.messages_send(claimed, claim=claim, task_id="send-1")
    assert taken_meanwhile == []
    assert result.sent == 12
    assert_each_sent_once(ids)
    assert [r.levelname for r in caplog.records if r.name == sending.logger.name] == ["INFO"]  # one, not one per email


def test_an_expired_lease_is_claimed_again_by_the_next_sweep(clock, clinic, clinician, caplog):
    """The sweep claimed a batch and the task was lost (a Redis restart without its append-only file, or a worker
    killed before it started): within one lease the rows are claimed again and sent, once."""
    ids = due_messages(clinic, clinician, patients=2)
    lost, _claim = services.messages_claim()
    assert sorted(lost) == sorted(ids)

    clock.move_to(START + LEASE - dt.timedelta(seconds=1))
    assert sweep().claimed == 0  # the lease still holds: its worker may be running
    clock.move_to(START + LEASE + dt.timedelta(seconds=1))
    with caplog.at_level(logging.WARNING, logger="notifications.services.sending"):
        report = sweep()
    assert report.claimed == 4
    assert_each_sent_once(ids)
    assert "Claimed again 4 emails whose lease ran out" in caplog.text  # the operator sees it happened


def test_a_worker_that_outlived_its_lease_leaves_the_new_claim_alone(clock, clinic, clinician, monkeypatch):
    """A worker frozen for longer than the lease (a paused VM): when it wakes up the rows it had not yet handed
    over belong to a newer claim, and it skips them."""
    ids = due_messages(clinic, clinician, patients=1)
    claimed, claim = services.messages_claim()
    original = EmailBackend.send_messages
    newer = []

    def frozen_then_resumed(self, messages):
        if not newer:
            clock.shift(LEASE + dt.timedelta(minutes=1))
            newer.append(services.messages_claim())  # the next sweep takes the second email
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", frozen_then_resumed)
    result = services.messages_send(claimed, claim=claim, task_id="send-1")
    monkeypatch.undo()
    assert (result.sent, result.lost) == (1, 1)
    # The sweep took both: the one still with the mail server too (its record, "sent", wins when it comes back).
    assert len(newer[0][0]) == 2
    newer_ids, newer_claim = newer[0]
    assert services.messages_send(newer_ids, claim=newer_claim).sent == 1  # the first was recorded sent meanwhile
    assert_each_sent_once(ids)


def test_a_both_knees_email_leaves_out_a_row_a_newer_claim_took(clock, clinic, clinician, monkeypatch):
    """While the email for both knees was being written, the right knee's row went to a newer claim (our lease
    ran out): the email goes for the left knee only, and the right knee's link, never sent, is deleted."""
    from notifications import emails
    from outcomes.models import QuestionnaireLink

    patient = PatientFactory(clinic=clinic)
    for minute, knee in ((0, "left"), (4, "right")):
        with time_machine.travel(at(2026, 3, 2, 10, minute), tick=False):
            make_injection(patient, clinician, knee=knee, injected_on=dt.date(2026, 3, 9))
    _claimed, claim = services.messages_claim()
    left, right = OutboundMessage.objects.filter(patient=patient, kind="invitation").order_by("id")
    original = emails.build_questionnaires

    def meanwhile_a_newer_claim(rows, **kwargs):
        if len(rows) == 2:  # the first writing; the second, for the left knee alone, goes undisturbed
            OutboundMessage.objects.filter(pk=right.pk).update(claimed_by="sweep:newer")
        return original(rows, **kwargs)

    monkeypatch.setattr(emails, "build_questionnaires", meanwhile_a_newer_claim)
    result = services.messages_send([left.pk, right.pk], claim=claim)
    assert (result.sent, result.lost) == (1, 1)
    (email,) = mail.outbox
    assert "left knee" in email.subject
    left.refresh_from_db()
    right.refresh_from_db()
    assert left.status == MessageStatus.SENT
    assert (right.status, right.claimed_by, right.handed_over_at) == (MessageStatus.SENDING, "sweep:newer", None)
    assert not QuestionnaireLink.objects.filter(follow_up=right.follow_up).exists()
    assert QuestionnaireLink.objects.filter(follow_up=left.follow_up).count() == 1


# --- one line per batch, with reasons -----------------------------------------------------------------------------


def test_one_warning_per_troubled_batch_with_counts_and_reasons(clock, clinic, clinician, monkeypatch, caplog):
    due_messages(clinic, clinician, patients=3)
    claimed, claim = services.messages_claim()

    def busy(self, messages):
        raise smtplib.SMTPResponseException(451, b"4.3.2 try again later")

    monkeypatch.setattr(EmailBackend, "send_messages", busy)
    with caplog.at_level(logging.INFO, logger="notifications.services.sending"):
        result = services.messages_send(claimed, claim=claim)
    assert result.retrying == 6
    records = [r for r in caplog.records if r.name == sending.logger.name]
    assert len(records) == 1
    record = records[0]
    assert record.levelname == "WARNING"
    assert "retrying 6" in record.getMessage()
    assert "6 x Mail server replied 451" in record.getMessage()
    assert "@" not in record.getMessage()  # no patient's address in the logs


# --- settings -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NOTIFICATIONS_CLAIM_LEASE_SECONDS", 30),  # shorter than one hand-over to the mail server may take
        ("NOTIFICATIONS_CLAIM_LEASE_SECONDS", "120"),
        ("NOTIFICATIONS_BATCH_SIZE", 0),
        ("NOTIFICATIONS_MAX_ATTEMPTS", 0),
        ("NOTIFICATIONS_BACKOFF_BASE_SECONDS", 0),
        ("NOTIFICATIONS_BACKOFF_MAX_SECONDS", 10),  # below the base
        ("NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES", 15),  # replaced by the lease
    ],
)
def test_malformed_sending_settings_stop_start_up(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        conf.get()


def test_sending_settings_are_read(settings):
    settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS = 300
    settings.NOTIFICATIONS_BACKOFF_BASE_SECONDS = 30
    settings.NOTIFICATIONS_BACKOFF_MAX_SECONDS = 600
    settings.EMAIL_TIMEOUT = 60
    assert conf.get().claim_lease == dt.timedelta(minutes=5)
    assert [sending.backoff(n).total_seconds() for n in (1, 2, 3, 6)] == [30, 60, 120, 600]
    settings.NOTIFICATIONS_CLAIM_LEASE_SECONDS = 120  # three times EMAIL_TIMEOUT is the floor
    with pytest.raises(ImproperlyConfigured, match="NOTIFICATIONS_CLAIM_LEASE_SECONDS"):
        conf.get()

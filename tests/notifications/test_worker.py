"""End to end through a real Celery worker (in a thread of this process, so time travel reaches it too) and the
real broker (a private filesystem queue on a laptop, Redis in CI): exactly one invitation when a follow-up opens,
reminders on schedule, none after completion, missed after closing; and the faults the outbox must survive."""

import contextlib
import datetime as dt
import threading
import time

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import OperationalError, connection

from config.celery import app as celery_app
from notifications import services, tasks
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUpStatus, Timepoint
from safety.models import Evaluation
from tests.factories import PatientFactory, make_injection
from tests.support.answers import complete
from tests.support.clock import at

DEADLINE = 30  # seconds; polls every 100 ms and returns as soon as the effect is there


@contextlib.contextmanager
def live_worker():
    celery_app.conf.task_always_eager = False
    if connection.vendor == "sqlite":
        # The test database is SQLite's shared in-memory one, where a reader's table lock makes a writer in
        # another thread fail at once ("database table is locked"). Let this thread's polling read without
        # locks, so it never trips up the worker it is watching.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")
    # Tasks an earlier test queued and never ran (its rows are gone with its database) would run first here, and
    # on SQLite hold a table while this test's fixtures write ("database table is locked" at setup).
    celery_app.control.purge()
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.fixture
def celery_worker_live(transactional_db):
    with live_worker() as worker:
        yield worker


def wait_for(predicate, what: str, timeout: float = DEADLINE, *, beat: bool = False):
    """Poll the database until `predicate()` holds. With beat=True, queue a sweep every second meanwhile, as
    beat would every minute (a sweep that hit a locked SQLite table is simply followed by the next one)."""
    deadline = time.monotonic() + timeout
    next_tick = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OperationalError:  # SQLite's shared in-memory test database: the worker holds the table
            pass
        if beat and time.monotonic() >= next_tick:
            tasks.followups_sweep.delay()
            next_tick = time.monotonic() + 1
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


def when_unlocked(action, *args, **kwargs):
    """Run a write from the test thread; on the shared in-memory SQLite test database a write can find the
    worker's lock and fail at once (a file or PostgreSQL would wait), so try again shortly."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return action(*args, **kwargs)
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def sent(follow_up, kind) -> int:
    return OutboundMessage.objects.filter(follow_up=follow_up, kind=kind, status=MessageStatus.SENT).count()


def mail_to(address: str) -> int:
    return sum(1 for m in mail.outbox if address in m.to)


def test_injection_to_missed_through_a_real_worker(celery_worker_live, clinic, clinician):
    with time_machine.travel(at(2026, 3, 2, 10), tick=True) as clock:
        finishes = PatientFactory(clinic=clinic)
        ignores = PatientFactory(clinic=clinic)
        plans = {p: make_injection(p, clinician, injected_on=dt.date(2026, 3, 2)).plan for p in (finishes, ignores)}
        month = {p: plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH) for p, plan in plans.items()}
        baselines = [plan.follow_ups.get(timepoint=Timepoint.BASELINE) for plan in plans.values()]
        # The baselines are open at once: their invitations were queued on commit and the worker sent them.
        wait_for(
            lambda: all(sent(b, MessageKind.INVITATION) == 1 for b in baselines), "the baseline invitations", beat=True
        )

        clock.move_to(at(2026, 3, 30, 9, 30))  # the one-month windows opened at midnight
        tasks.followups_sweep.delay()
        tasks.followups_sweep.delay()  # a duplicate beat tick
        wait_for(
            lambda: all(sent(f, MessageKind.INVITATION) == 1 for f in month.values()),
            "the one-month invitations",
            beat=True,
        )

        clock.move_to(at(2026, 4, 2, 10))
        tasks.followups_sweep.delay()
        wait_for(
            lambda: all(sent(f, MessageKind.REMINDER_1) == 1 for f in month.values()), "the first reminders", beat=True
        )

        when_unlocked(complete, month[finishes])  # commits: the reminders stop and the flag rules run on the worker
        evaluated = Evaluation.objects.filter(submission__follow_up=month[finishes])
        wait_for(evaluated.exists, "the flag rules")
        assert not month[finishes].messages.filter(status=MessageStatus.PENDING).exists()

        for when, kind in ((at(2026, 4, 6, 10), MessageKind.REMINDER_2), (at(2026, 4, 20, 10), "final_reminder")):
            clock.move_to(when)
            tasks.followups_sweep.delay()
            wait_for(lambda kind=kind: sent(month[ignores], kind) == 1, kind, beat=True)

        clock.move_to(at(2026, 4, 24, 0, 5))
        tasks.followups_sweep.delay()
        wait_for(
            lambda: type(month[ignores]).objects.get(pk=month[ignores].pk).status == FollowUpStatus.MISSED,
            "missed after closing",
            beat=True,
        )
        tasks.followups_sweep.delay()
        tasks.followups_sweep.delay()

    month[finishes].refresh_from_db()
    assert month[finishes].status == FollowUpStatus.COMPLETED
    for kind in (MessageKind.INVITATION, MessageKind.REMINDER_1):
        assert sent(month[finishes], kind) == 1
    for kind in (MessageKind.REMINDER_2, MessageKind.FINAL_REMINDER):
        assert sent(month[finishes], kind) == 0
        assert sent(month[ignores], kind) == 1
    # Every email once: baseline invitation, then one-month invitation + reminder 1 (+ 2 more for `ignores`).
    assert mail_to(finishes.email) == 1 + 2
    assert mail_to(ignores.email) == 1 + 4


@pytest.fixture
def broker_down(monkeypatch):
    """Point the app at a broker nobody listens on, as during a Redis restart."""
    original = celery_app.conf.broker_url

    def point_at(url):
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        celery_app.conf.broker_url = url
        # Drop the cached connections and producers, so the next publish really connects to `url`.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    point_at("redis://127.0.0.1:1/0")

    def restore():
        point_at(original)

    yield restore
    restore()


def test_broker_outage_loses_nothing(transactional_db, clinic, clinician, broker_down):
    with time_machine.travel(at(2026, 3, 2, 10), tick=True):
        patient = PatientFactory(clinic=clinic)
        make_injection(patient, clinician, injected_on=dt.date(2026, 3, 9))  # its on-commit enqueue fails
        report = services.followups_sweep()
        assert report.claimed == 1
        assert report.enqueue_failed == 1
        invitation = OutboundMessage.objects.get(kind=MessageKind.INVITATION)
        assert invitation.status == MessageStatus.PENDING  # released, not stuck in "sending"
        assert not mail.outbox

        broker_down()  # the broker is back
        with live_worker():
            tasks.followups_sweep.delay()
            wait_for(
                lambda: OutboundMessage.objects.get(pk=invitation.pk).status == MessageStatus.SENT, "resend", beat=True
            )
    assert mail_to(patient.email) == 1


def test_smtp_error_through_the_worker_leaves_the_row_pending(celery_worker_live, clinic, clinician, failing_mail):
    import smtplib

    failing_mail.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    with time_machine.travel(at(2026, 3, 2, 10), tick=True):
        make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 9))
        invitation = OutboundMessage.objects.get(kind=MessageKind.INVITATION)
        tasks.followups_sweep.delay()
        wait_for(lambda: OutboundMessage.objects.get(pk=invitation.pk).attempts >= 1, "a failed attempt", beat=True)
    invitation.refresh_from_db()
    assert invitation.status == MessageStatus.PENDING
    assert "Connection unexpectedly closed" in invitation.last_error
    assert invitation.delivery_attempts.filter(outcome="transient").count() == invitation.attempts


def test_duplicate_task_delivery_through_the_worker_sends_once(celery_worker_live, clinic, clinician):
    with time_machine.travel(at(2026, 3, 5, 10), tick=True):
        patient = PatientFactory(clinic=clinic)
        with time_machine.travel(at(2026, 3, 2, 10), tick=False):
            make_injection(patient, clinician, injected_on=dt.date(2026, 3, 9))
        OutboundMessage.objects.filter(status=MessageStatus.SENT).update(status=MessageStatus.PENDING)
        ids, claim = services.messages_claim()
        assert len(ids) == 2  # invitation and reminder 1
        for _ in range(3):
            tasks.send_batch.delay(ids, claim)
        wait_for(lambda: OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 2, "the batch")
        tasks.send_batch.delay(ids)  # a late duplicate without the claim: nothing left pending to take
        tasks.followups_sweep.delay()
        time.sleep(0)  # nothing to wait for: the assertions below must hold however long we wait
    wait_for(lambda: mail_to(patient.email) >= 2, "the emails")
    assert mail_to(patient.email) == 2


@pytest.mark.needs_services("postgres")
def test_concurrent_duplicate_batches_on_postgres_send_each_message_once(transactional_db, clinic, clinician):
    with time_machine.travel(at(2026, 3, 5, 10), tick=False):
        for _ in range(10):
            patient = PatientFactory(clinic=clinic)
            with time_machine.travel(at(2026, 3, 2, 10), tick=False):
                make_injection(patient, clinician, injected_on=dt.date(2026, 3, 9))
        ids, claim = services.messages_claim(limit=500)
        assert len(ids) == 20
        barrier = threading.Barrier(4)
        results = []

        def deliver():
            try:
                barrier.wait()
                results.append(services.messages_send(ids, claim=claim))
            finally:
                connection.close()

        threads = [threading.Thread(target=deliver) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    assert sum(r.sent for r in results) == 20
    assert len(mail.outbox) == 20
    assert len({(m.to[0], m.subject) for m in mail.outbox}) == 20


@pytest.mark.needs_services("postgres")
def test_concurrent_sweeps_on_postgres_claim_disjoint_rows(transactional_db, clinic, clinician, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 3
    with time_machine.travel(at(2026, 3, 5, 10), tick=False):
        for _ in range(10):
            with time_machine.travel(at(2026, 3, 2, 10), tick=False):
                make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 3, 9))
        claimed: list[list[int]] = []
        barrier = threading.Barrier(3)

        def sweep_without_sending():
            try:
                barrier.wait()
                services.followups_sweep(dispatch=lambda ids, claim: claimed.append(ids))
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep_without_sending) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    every = [i for batch in claimed for i in batch]
    assert len(every) == len(set(every)) == 20

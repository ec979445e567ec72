"""Every invitation exactly once, whatever breaks mid-drain (issue 13).

Real processes: Celery workers started as docker-compose starts them (production settings), PostgreSQL (the test
database), a Redis and an SMTP server of the test's own, and sweeps every second standing in for beat. A few hundred
invitations fall due at once (FAULTS_INVITATIONS); then one thing breaks. Each test asserts that every patient got
exactly one invitation (by recipient: each has one follow-up), that no row is left pending or "sending", and that
everything arrived within the configured claim lease plus the time a drain takes after the fault ended.

The numbers (expected, delivered, duplicates, lost, recovery seconds) are printed at the end of the session and
written to var/faults/report.md (tests/faults/report.py).
"""

import contextlib
import threading
import time

import pytest

from notifications import services
from notifications.models import MessageStatus
from notifications.services.sweep import enqueue_batch
from tests.faults.conftest import INVITATIONS, RECOVERY, SWEEP_EVERY, terminate_worker_connections
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.needs_services("postgres", "redis")]

LEASE = float(RECOVERY["NOTIFICATIONS_CLAIM_LEASE_SECONDS"])
# After the fault ends, what is left drains at about 50 emails a second on 2 busy cores: the slack on top of the
# lease is several times that, and never under 30 s.
DRAIN_ALLOWANCE = max(30.0, INVITATIONS / 10)
BOUND = LEASE + SWEEP_EVERY + DRAIN_ALLOWANCE


# The two tests that wait out a lease (this one and the Redis restart without append-only) come first and
# third: xdist hands out tests in pairs, and both waits on one worker would make the directory a minute longer.
def test_worker_killed_mid_batch_then_a_new_worker(rig):
    rig.invitations_due()
    worker = rig.start_worker()
    rig.sweeping()
    rig.wait_delivered(INVITATIONS // 4)

    # Killed while its emails wait for the mail server's reply: mid-batch, but before the server accepted them. A
    # kill just after an acceptance and before its record is the one window no database can close (a duplicate
    # with the same Message-ID, see notifications/services/sending.py); a random kill hits it now and then.
    def kill():
        worker.kill()
        # The server notices the vanished sender and drops what it held (never accepted, never recorded).
        wait_until(lambda: rig.smtp.mailbox.held == 0, "the killed worker's sends to be dropped", every=0.02)

    rig.mid_send(kill)
    in_flight = rig.invitations().filter(status=MessageStatus.SENDING).count()
    rig.start_worker()
    fault_ended = worker_ready = time.monotonic()
    rig.finish(
        "worker SIGKILL mid-batch, new worker started",
        fault_ended_at=fault_ended,
        bound=BOUND,
        notes=f"{in_flight} rows sending at the kill; recovery from the new worker's start ({worker_ready:.0f})",
    )


def test_duplicate_task_delivery(rig):
    def publish_twice(ids, claim):
        enqueue_batch(ids, claim)
        enqueue_batch(ids, claim)

    rig.invitations_due()
    rig.start_worker()
    started = time.monotonic()
    rig.sweeping(lambda: services.followups_sweep(dispatch=publish_twice))
    rig.finish("duplicate task delivery (every batch published twice)", fault_ended_at=started, bound=BOUND)


@pytest.mark.parametrize("append_only", [False, True], ids=["no-append-only", "append-only"])
def test_redis_restart_mid_drain(make_rig, append_only):
    rig = make_rig(append_only=append_only)
    rig.invitations_due()
    rig.start_worker()
    rig.sweeping()
    rig.wait_delivered(INVITATIONS // 4)
    rig.redis.restart()  # SIGTERM and start again: without append-only every queued batch is gone
    fault_ended = time.monotonic()
    rig.finish(f"Redis restart mid-drain ({'append-only' if append_only else 'no persistence'})",
               fault_ended_at=fault_ended, bound=BOUND)  # fmt: skip


def test_two_concurrent_sweeps(rig):
    rig.invitations_due()
    rig.start_worker()
    together = threading.Barrier(2)

    def sweep():
        if not together.broken:  # the two first sweeps start at the same moment, then each keeps its own pace
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait(timeout=5)
            together.abort()
        return services.followups_sweep()

    started = time.monotonic()
    rig.sweeping(sweep)
    rig.sweeping(sweep)
    rig.finish("two concurrent sweeps", fault_ended_at=started, bound=BOUND)


def test_database_connections_terminated_three_times_mid_drain(rig):
    rig.invitations_due()
    rig.start_worker()
    rig.sweeping()
    terminated = []
    for share in (0.2, 0.4, 0.6):
        rig.wait_delivered(int(INVITATIONS * share))
        # While emails wait for the mail server's reply: once it accepts them, the worker's next query (recording
        # them as sent) meets a dead connection. That is where the duplicates came from.
        terminated.append(rig.mid_send(terminate_worker_connections))
    fault_ended = time.monotonic()
    assert all(terminated), "each blip terminated the worker's connections"
    rig.finish("database connections terminated 3 times mid-drain", fault_ended_at=fault_ended, bound=BOUND,
               notes=f"connections terminated: {terminated}")  # fmt: skip


def test_smtp_down_for_a_while_then_back(rig):
    rig.invitations_due()
    rig.start_worker()
    rig.sweeping()
    rig.wait_delivered(INVITATIONS // 4)
    rig.smtp.stop()
    # Down until a whole batch's worth of sends has failed and is waiting to retry.
    wait_until(
        lambda: (
            rig.invitations().filter(status=MessageStatus.PENDING, attempts__gte=1).count()
            >= RECOVERY["NOTIFICATIONS_BATCH_SIZE"]
        ),
        "sends failing while the mail server is down",
        timeout=60,
    )
    failed_while_down = rig.invitations().filter(attempts__gte=1).exclude(status=MessageStatus.SENT).count()
    rig.smtp.start()
    fault_ended = time.monotonic()
    rig.finish("SMTP server down, then back", fault_ended_at=fault_ended, bound=BOUND,
               notes=f"{failed_while_down} rows waiting to retry when it came back")  # fmt: skip
    assert not rig.invitations().filter(status=MessageStatus.FAILED).exists()

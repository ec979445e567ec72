"""The rig every fault test uses: the test database (PostgreSQL), a Redis of its own, an SMTP server that records
every message, Celery workers as subprocesses, and a beat stand-in sweeping every second from this process.

The worker and this process share short recovery settings (RECOVERY), so a dead worker's claims are taken back in
seconds rather than minutes, and every test asserts against those configured values.
"""

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from notifications import conf, services
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from registry.models import Patient, TreatmentPlan
from tests.factories import ClinicFactory
from tests.faults import report
from tests.faults.harness import RedisServer, SmtpServer, Sweeper, Worker, redis_server_missing, worker_environment
from tests.processes import wait_until

# How many invitations fall due at once. The issue's own run used 2,000; a few hundred shows every fault in CI's
# time budget. FAULTS_INVITATIONS=2000 repeats the original.
INVITATIONS = int(os.environ.get("FAULTS_INVITATIONS", "240"))
SWEEP_EVERY = 1.0  # seconds; beat sweeps every minute, the rig every second so recovery is measured in seconds

# The outbox settings under test, for the worker (environment) and for this process, whose sweeps decide which
# claims are stale (Django settings). Small batches, so a fault always lands mid-drain with batches in flight.
# The lease is the shortest the application accepts with a 5 s SMTP timeout (three SMTP timeouts at least, so a
# sweep never takes back a row whose worker is still talking to the mail server); the backoff is short so "SMTP
# down" ends quickly.
RECOVERY = {
    "NOTIFICATIONS_BATCH_SIZE": 20,
    "EMAIL_TIMEOUT": 5,
    "NOTIFICATIONS_CLAIM_LEASE_SECONDS": 15,
    "NOTIFICATIONS_BACKOFF_BASE_SECONDS": 2,
    "NOTIFICATIONS_BACKOFF_MAX_SECONDS": 4,
    "NOTIFICATIONS_MAX_ATTEMPTS": 20,
}
SETTLE = 2.0  # seconds of quiet after the drain: a late duplicate would arrive in it


def claim_lease_seconds() -> float:
    """The configured time after which a claim nobody renews is taken back by the next sweep."""
    settings = conf.get()
    for name in ("claim_lease", "claim_timeout"):
        value = getattr(settings, name, None)
        if isinstance(value, dt.timedelta):
            return value.total_seconds()
    raise AssertionError("notifications.conf has no claim lease or timeout")


@dataclass
class Outcome:
    fault: str
    expected: int
    delivered: int
    duplicates: int
    lost: int
    recovery_seconds: float | None
    bound_seconds: float
    stuck: int  # invitation rows still pending or "sending" at the end
    recognisable: int  # duplicates carrying the first copy's Message-ID
    notes: str = ""


class Rig:
    def __init__(self, *, folder: Path, redis: RedisServer, smtp: SmtpServer):
        self.folder, self.redis, self.smtp = folder, redis, smtp
        self.workers: list[Worker] = []
        self.sweepers: list[Sweeper] = []
        self.expected: set[str] = set()

    # --- the registry's side -------------------------------------------------------------------------------------

    def invitations_due(self, count: int = INVITATIONS) -> set[str]:
        """`count` one-month follow-ups whose window opens today, each of its own patient: the next sweep opens
        them and writes `count` invitations due at once."""
        clinic = ClinicFactory(name="Fault Clinic", time_zone="Europe/London")
        today = timezone.now().astimezone(clinic.tzinfo).date()
        patients = Patient.objects.bulk_create(
            Patient(clinic=clinic, registry_number=f"KR-F{i:05d}", full_name=f"Fault Patient {i}",
                    email=f"patient{i}@faults.example", year_of_birth=1960, consent_on=today - dt.timedelta(days=40),
                    consent_version="v1.0", consent_email_contact=True)
            for i in range(count)
        )  # fmt: skip
        plans = TreatmentPlan.objects.bulk_create(
            TreatmentPlan(patient=p, knee="left", product="prp", planned_injections=1) for p in patients
        )
        FollowUp.objects.bulk_create(
            FollowUp(plan=plan, patient=plan.patient, clinic=clinic, timepoint=Timepoint.ONE_MONTH, opens_on=today,
                     due_on=today + dt.timedelta(days=3), closes_on=today + dt.timedelta(days=21),
                     status=FollowUpStatus.SCHEDULED)
            for plan in plans
        )  # fmt: skip
        self.expected = {p.email for p in patients}
        return self.expected

    def invitations(self):
        return OutboundMessage.objects.filter(kind=MessageKind.INVITATION)

    def stuck(self) -> int:
        return self.invitations().filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING]).count()

    # --- processes -----------------------------------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        db = connection.settings_dict
        auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
        database_url = (
            f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
            "?application_name=faults-worker"
        )
        return worker_environment(
            database_url=database_url,
            broker_url=self.redis.url,
            smtp_url=self.smtp.url,
            var_dir=self.folder / "var",
            extra={
                "NOTIFICATIONS_SENDING_HOURS": "00:00-24:00",  # emails at any hour: CI runs at night too
                **{name: str(value) for name, value in RECOVERY.items()},
            },
        )

    def start_worker(self) -> Worker:
        worker = Worker(self.worker_env(), self.folder / f"worker-{len(self.workers) + 1}.log").start()
        self.workers.append(worker)
        return worker.wait_ready()

    def sweeping(self, sweep=services.followups_sweep, *, every: float = SWEEP_EVERY) -> Sweeper:
        sweeper = Sweeper(sweep, every=every).start()
        self.sweepers.append(sweeper)
        return sweeper

    def stop(self) -> None:
        for sweeper in self.sweepers:
            sweeper.stop()
        for worker in self.workers:
            worker.stop()

    # --- what arrived --------------------------------------------------------------------------------------------

    def delivered(self) -> int:
        return len(self.expected & set(self.smtp.mailbox.recipients()))

    def mid_send(self, action: Callable[[], object]) -> object:
        """Run `action` while the workers are mid-send: their emails wait at the mail server for its reply."""
        self.smtp.mailbox.hold()
        try:
            wait_until(lambda: self.smtp.mailbox.held >= 1, "a send waiting at the mail server", every=0.02)
            return action()
        finally:
            self.smtp.mailbox.release()

    def wait_delivered(self, at_least: int, timeout: float = 120) -> None:
        wait_until(
            lambda: self.delivered() >= at_least, f"{at_least} invitations delivered", timeout=timeout, every=0.05
        )

    def drained(self) -> bool:
        return self.delivered() == len(self.expected) and self.stuck() == 0

    def finish(self, fault: str, *, fault_ended_at: float, bound: float, notes: str = "") -> Outcome:
        """Wait (up to `bound` seconds after the fault ended) until every invitation arrived and no row is left
        pending or "sending", then a moment more for late duplicates; record the numbers; assert on them."""
        deadline = fault_ended_at + bound
        while time.monotonic() < deadline and not self.drained():
            time.sleep(0.1)
        drained = self.drained()
        if drained:
            time.sleep(SETTLE)
        self.stop()
        received = self.smtp.mailbox.snapshot()
        counts = self.smtp.mailbox.recipients()
        done_at = max((m.at for m in received), default=None)
        outcome = Outcome(
            fault=fault,
            expected=len(self.expected),
            delivered=len(self.expected & set(counts)),
            duplicates=sum(n - 1 for address, n in counts.items() if address in self.expected),
            lost=len(self.expected - set(counts)),
            recovery_seconds=round(max(0.0, done_at - fault_ended_at), 1) if drained and done_at else None,
            bound_seconds=round(bound, 1),
            stuck=self.stuck(),
            recognisable=len(received) - len({(m.to, m.message_id) for m in received}),
            notes=notes,
        )
        report.record(outcome.__dict__)
        assert claim_lease_seconds() == RECOVERY["NOTIFICATIONS_CLAIM_LEASE_SECONDS"], "the lease is the one set"
        unexpected = set(counts) - self.expected
        assert not unexpected, f"emails to addresses that were never due: {sorted(unexpected)[:5]}"
        assert outcome.lost == 0, f"{outcome.lost} invitations never arrived ({outcome.stuck} rows stuck): {outcome}"
        assert outcome.duplicates == 0, f"{outcome.duplicates} patients got their invitation twice: {outcome}"
        assert outcome.stuck == 0, f"{outcome.stuck} rows still pending or sending: {outcome}"
        assert drained, f"not drained within {bound:.0f} s of the fault's end: {outcome}"
        links = [m.link for m in received]
        assert all(links), "every email carries a questionnaire link"
        assert len(set(links)) == len(links), "each email carries a link of its own"
        message_ids = [m.message_id for m in received]
        assert all(message_ids)
        assert len(set(message_ids)) == len(message_ids)
        sent = self.invitations().filter(status=MessageStatus.SENT)
        assert sent.count() == outcome.expected
        assert set(sent.values_list("recipient", flat=True)) == self.expected
        return outcome


@pytest.fixture
def recovery_settings(settings):
    settings.NOTIFICATIONS_SENDING_HOURS = "00:00-24:00"
    for name, value in RECOVERY.items():
        setattr(settings, name, value)
    conf.get.cache_clear()
    yield
    conf.get.cache_clear()


@pytest.fixture
def broker_at(monkeypatch):
    """Point this process's Celery app (the sweeps publish from here) at the rig's Redis, without the test
    session's key prefix, so the worker subprocess reads what the sweeps queue."""
    original_url = celery_app.conf.broker_url
    original_options = dict(celery_app.conf.broker_transport_options or {})

    def point_at(url: str, options: dict) -> None:
        monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads the environment before its own setting
        celery_app.conf.broker_url = url
        celery_app.conf.broker_transport_options = options
        celery_app._pool = None  # drop cached connections and producers: the next publish connects to `url`
        celery_app.amqp._producer_pool = None

    def use(url: str) -> None:
        options = {k: v for k, v in original_options.items() if k != "global_keyprefix"}
        point_at(url, options)

    yield use
    point_at(original_url, original_options)


@pytest.fixture
def make_rig(transactional_db, tmp_path, recovery_settings, broker_at):
    reason = redis_server_missing()
    if reason:
        pytest.skip(reason)
    rigs: list[Rig] = []

    def make(*, append_only: bool = False) -> Rig:
        redis = RedisServer(tmp_path / f"redis-{len(rigs)}", append_only=append_only)
        redis.start()
        smtp = SmtpServer()
        smtp.start()
        broker_at(redis.url)
        rig = Rig(folder=tmp_path, redis=redis, smtp=smtp)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()
        rig.smtp.stop()
        rig.redis.stop()
    for rig in rigs:  # on a failure, the workers' logs say why
        for worker in rig.workers:
            problems = [line for line in worker.log().splitlines() if "Traceback" in line or "ERROR" in line]
            if problems:
                print(f"{worker.log_path.name}: {len(problems)} error lines, e.g. {problems[:3]}")


@pytest.fixture
def rig(make_rig) -> Rig:
    return make_rig()


def terminate_worker_connections() -> int:
    """pg_terminate_backend on every other connection to this test's own database (never another database):
    the worker's, the sweeper's. Returns how many were terminated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]

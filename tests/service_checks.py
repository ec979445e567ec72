"""Tests that need a real service (PostgreSQL, Redis, a browser).

On a laptop without the service such a test skips with a reason starting "needs service: ...". In CI (env CI
truthy) every service is provided, so a skip of that kind means the test silently did not run: the session
then fails, listing the tests and why.

Use it as a marker (`@pytest.mark.needs_services("postgres")`, `("redis")`; no argument means both) or as the
fixtures `postgres_required` / `redis_required` (the latter returns the Redis URL).

It also keeps each test session's Celery broker to itself, so a test's worker never takes a task queued by
`make run`, by another xdist worker, or by another run of the suite on the same machine.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SKIP_PREFIX = "needs service"
SERVICES = ("postgres", "redis")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

_redis_status: dict[str, str | None] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def redis_url() -> str:
    """The broker under test if it is Redis, else REDIS_URL, else a local Redis."""
    from django.conf import settings

    broker = getattr(settings, "CELERY_BROKER_URL", "") if settings.configured else ""
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


def postgres_missing() -> str | None:
    """Why a PostgreSQL-only test cannot run here, or None when the database is PostgreSQL."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"] if settings.configured else "not configured"
    if "postgresql" in engine:
        return None
    return f"{SKIP_PREFIX}: PostgreSQL not configured (set DATABASE_URL=postgres://...; the database is {engine})"


def redis_missing() -> str | None:
    """Why a Redis test cannot run here, or None when Redis answers a PING (checked once per session)."""
    url = redis_url()
    if url not in _redis_status:
        import redis

        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            client.ping()
            client.close()
            _redis_status[url] = None
        except redis.RedisError as exc:
            _redis_status[url] = f"{SKIP_PREFIX}: Redis not reachable at {_redacted(url)} ({exc.__class__.__name__})"
    return _redis_status[url]


_CHECKS = {"postgres": postgres_missing, "redis": redis_missing}


@pytest.fixture
def postgres_required():
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def redis_required() -> str:
    reason = redis_missing()
    if reason:
        pytest.skip(reason)
    return redis_url()


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("needs_services")
    if marker is None:
        return
    unknown = set(marker.args) - set(SERVICES)
    if unknown:
        raise pytest.UsageError(f"needs_services: unknown service(s) {sorted(unknown)}; use {SERVICES}")
    for service in marker.args or SERVICES:
        reason = _CHECKS[service]()
        if reason:
            pytest.skip(reason)


# --- CI: a "needs service" skip fails the run ------------------------------------------------------------------


def skip_reason(report) -> str:
    longrepr = report.longrepr
    # A skip's longrepr is (path, line, "Skipped: reason"); xdist sends it over as a list.
    is_skip_tuple = isinstance(longrepr, tuple | list) and len(longrepr) == 3
    message = str(longrepr[2]) if is_skip_tuple else str(longrepr or "")
    return message.removeprefix("Skipped: ")


class ServiceSkips:
    """Collects "needs service" skips; in CI they turn a passing session into a failing one."""

    def __init__(self, config):
        self.config = config
        self.offenders: list[tuple[str, str]] = []
        self.temp_dirs: list[Path] = []

    @property
    def is_xdist_worker(self) -> bool:
        # Under xdist the controller receives every worker's reports, so it alone decides.
        return hasattr(self.config, "workerinput")

    def _note(self, report) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = skip_reason(report)
            if reason.startswith(SKIP_PREFIX):
                self.offenders.append((report.nodeid, reason))

    def pytest_runtest_logreport(self, report):
        self._note(report)

    def pytest_collectreport(self, report):
        self._note(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        if self.config.pluginmanager.hasplugin("django"):
            self.temp_dirs.extend(isolate_celery_broker(os.environ.get("PYTEST_XDIST_WORKER", "main")))

    def pytest_sessionfinish(self, session, exitstatus):
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        if self.is_xdist_worker or not in_ci() or not self.offenders:
            return
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if not self.offenders or self.is_xdist_worker:
            return
        if in_ci():
            terminalreporter.section("services missing in CI", sep="=", red=True, bold=True)
            terminalreporter.line(
                f"{len(self.offenders)} test(s) skipped for a missing service. CI provides every service, so this "
                "run FAILS: start the service (see .ci/run) rather than letting tests skip.",
                red=True,
            )
        else:
            terminalreporter.section("skipped for missing services", sep="-")
            terminalreporter.line("These must run in CI (CI=true), where a missing service fails the run:")
        for nodeid, reason in self.offenders:
            terminalreporter.line(f"  {nodeid}: {reason}")


def pytest_configure(config):
    config.pluginmanager.register(ServiceSkips(config), "service_checks_skips")


# --- Celery: one broker per test session -----------------------------------------------------------------------


def isolate_celery_broker(worker_id: str) -> list[Path]:
    """Give this process its own queue: a temporary folder for filesystem://, a key prefix for Redis.

    Returns folders to delete at the end of the session.
    """
    from django.conf import settings

    if not settings.configured:
        return []
    from config.celery import app

    session = f"test-{worker_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    created: list[Path] = []
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("filesystem://"):
        root = Path(tempfile.mkdtemp(prefix=f"celery-{session}-"))
        created.append(root)
        for option, name in (
            ("data_folder_in", "queue"),
            ("data_folder_out", "queue"),
            ("processed_folder", "processed"),
            ("control_folder", "control"),
        ):
            (root / name).mkdir(exist_ok=True)
            options[option] = str(root / name)
    elif broker.startswith(("redis://", "rediss://")):
        options["global_keyprefix"] = f"{session}:"
    else:
        return created
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    app.conf.broker_transport_options = options
    return created

"""Health and liveness: /health/ for the web (database and broker reachable, 200 or 503, nothing else said), the
worker's and beat's `check_liveness` (age of the last successful sweep), and the task heartbeats behind it."""

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError

from notifications import heartbeat, tasks
from notifications.models import TaskHeartbeat
from tests.support.clock import at

pytestmark = pytest.mark.django_db


def test_healthy_when_the_database_and_broker_answer(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-store" in response["Cache-Control"]


class DeadConnection:
    def cursor(self):
        raise OperationalError("connection refused")


def test_503_when_the_database_is_down(client, monkeypatch):
    monkeypatch.setattr("notifications.health.connection", DeadConnection())
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "broker": "ok"}


def test_503_when_the_broker_is_down_and_nothing_about_it_is_given_away(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unreachable"}
    assert b"127.0.0.1" not in response.content


def test_503_when_the_filesystem_brokers_folder_is_gone(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}
    assert client.get("/health/").status_code == 503


def test_health_answers_get_only(client):
    assert client.post("/health/").status_code == 405


# --- liveness ---------------------------------------------------------------------------------------------------


def liveness(*args) -> int:
    try:
        call_command("check_liveness", *args)
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_liveness_fails_until_a_sweep_has_finished():
    assert liveness() == 1


def test_liveness_follows_the_age_of_the_last_successful_sweep(capsys):
    with time_machine.travel(at(2026, 3, 2, 10), tick=False) as clock:
        tasks.followups_sweep.apply()
        assert liveness("--max-sweep-age", "180") == 0
        clock.shift(dt.timedelta(seconds=170))
        assert liveness("--max-sweep-age", "180") == 0
        clock.shift(dt.timedelta(seconds=20))
        assert liveness("--max-sweep-age", "180") == 1
        assert "190 s ago (limit 180 s)" in capsys.readouterr().err
        assert liveness("--max-sweep-age", "600") == 0
        tasks.followups_sweep.apply()  # the next tick brings it back
        assert liveness("--max-sweep-age", "180") == 0


def test_a_failing_sweep_does_not_keep_the_worker_alive():
    with time_machine.travel(at(2026, 3, 2, 10), tick=False) as clock:
        tasks.followups_sweep.apply()
        clock.shift(dt.timedelta(minutes=5))
        sweep = SimpleNamespace(name=heartbeat.SWEEP_TASK)
        heartbeat.task_started(task_id="t1", task=sweep)
        heartbeat.task_finished(task_id="t1", task=sweep, state="FAILURE")
        assert liveness("--max-sweep-age", "180") == 1
    row = TaskHeartbeat.objects.get(task=heartbeat.SWEEP_TASK)
    assert (row.runs, row.failures) == (2, 1)
    assert row.last_finished_at == at(2026, 3, 2, 10, 5)
    assert row.last_succeeded_at == at(2026, 3, 2, 10)


def test_liveness_fails_when_the_database_cannot_be_read(monkeypatch, capsys):
    def unreadable(now=None):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr("notifications.management.commands.check_liveness.sweep_age_seconds", unreadable)
    assert liveness() == 1
    assert "cannot read" in capsys.readouterr().err


# --- heartbeats -------------------------------------------------------------------------------------------------


def test_every_task_run_is_counted_with_its_duration():
    with time_machine.travel(at(2026, 3, 2, 10), tick=False):
        tasks.followups_sweep.apply()
        tasks.followups_sweep.apply()
        tasks.missed_digest.apply()
    sweep = TaskHeartbeat.objects.get(task="notifications.followups_sweep")
    assert (sweep.runs, sweep.failures) == (2, 0)
    assert sweep.last_started_at == sweep.last_finished_at == sweep.last_succeeded_at == at(2026, 3, 2, 10)
    assert sweep.last_duration_seconds >= 0
    assert TaskHeartbeat.objects.get(task="notifications.missed_digest").runs == 1


def test_a_heartbeat_that_cannot_be_written_never_fails_the_task(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(TaskHeartbeat.objects, "filter", broken)
    result = tasks.missed_digest.apply()
    assert result.successful()
    assert "Could not record the start of notifications.missed_digest" in caplog.text
    assert "Could not record the end of notifications.missed_digest" in caplog.text

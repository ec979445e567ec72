"""`make run PORT=8101`: every link the demo sends points at the port it serves (SITE_URL follows PORT), unless
SITE_URL is set explicitly."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from demo.management.commands import rundemo

ROOT = Path(__file__).resolve().parent.parent
READY_WORKER = "import time; print('celery@demo ready.', flush=True); time.sleep(60)"


@pytest.fixture
def started(settings, tmp_path, monkeypatch):
    """Runs rundemo with stand-in worker and server; returns the environment each child was started with."""
    settings.VAR_DIR = tmp_path
    for name in ("SITE_URL", "NOTIFICATIONS_SENDING_HOURS"):
        monkeypatch.setenv(name, "")  # recorded, so that whatever rundemo sets is undone after the test
        monkeypatch.delenv(name)
    environments: dict[str, dict[str, str]] = {}
    real_popen = rundemo.subprocess.Popen

    def popen(command, *args, **kwargs):
        environments["worker" if "celery@demo" in " ".join(command) else "server"] = dict(kwargs.get("env", os.environ))
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(rundemo.subprocess, "Popen", popen)
    monkeypatch.setattr(rundemo, "send_due_emails", lambda stdout: None)  # tests/test_demo_first_start.py
    monkeypatch.setattr(rundemo, "worker_command", lambda: [sys.executable, "-c", READY_WORKER])
    monkeypatch.setattr(rundemo, "server_command", lambda address: [sys.executable, "-c", "pass"])

    def run(*args: str) -> dict[str, dict[str, str]]:
        call_command("rundemo", *args, stdout=io.StringIO())
        return environments

    return run


def test_the_worker_and_the_server_get_a_site_url_on_the_demo_port(started):
    environments = started("--port", "8101")
    assert environments["worker"]["SITE_URL"] == "http://127.0.0.1:8101"
    assert environments["server"]["SITE_URL"] == "http://127.0.0.1:8101"


def test_an_explicit_site_url_is_kept(started, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://demo.example.org")
    environments = started("--port", "8101")
    assert environments["worker"]["SITE_URL"] == "https://demo.example.org"


def test_make_run_gives_seeding_and_the_demo_the_same_site_url():
    """The Makefile passes the port's address to every step that may write a link (seed_demo too)."""
    env = {key: value for key, value in os.environ.items() if key not in ("SITE_URL", "MAKEFLAGS", "MFLAGS")}
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=8101"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    for command in ("manage.py seed_demo", "manage.py rundemo"):
        line = next(line for line in dry_run.splitlines() if command in line)
        # The line's own assignments, evaluated by the shell as make would, then `env` instead of the command.
        prefix = line.split(".venv/bin/python")[0]
        shown = subprocess.run(["sh", "-c", f"{prefix} env"], env=env, capture_output=True, text=True, check=True)
        assert "SITE_URL=http://127.0.0.1:8101" in shown.stdout.splitlines(), line

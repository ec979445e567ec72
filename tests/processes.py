"""Helpers for tests that start the real programs (gunicorn, celery, manage.py) as separate processes."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DEADLINE = 30  # seconds; polls return as soon as the condition holds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def minimal_env(**values: str) -> dict[str, str]:
    """A clean environment, as a container has: none of the test run's own settings (DATABASE_URL, CI, ...) leak
    in. The virtualenv's bin comes first on PATH, so `python`, `gunicorn` and `celery` are the project's."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(values)
    return env


def wait_until(condition: Callable[[], bool], what: str, *, timeout: float = DEADLINE, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")


def stop(*processes: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to each process group at once (a warm shutdown, as `docker compose stop` does), then wait for all;
    SIGKILL whatever still runs after the grace time."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

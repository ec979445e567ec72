"""The real processes a fault test needs, each one the test can break and mend: a Redis server of its own (so it
can be killed and restarted without touching anyone else's), an SMTP server that records every message, Celery
workers started as docker-compose starts them, and a stand-in for beat that sweeps every second.

Nothing here knows about a particular fault; tests/faults/test_faults.py breaks these in turn.
"""

import asyncio
import contextlib
import email
import email.policy
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.deployment import ROOT, compose, compose_environment
from tests.processes import free_port, minimal_env, stop, wait_until

STARTUP = 60  # seconds: a worker imports everything on a busy 2-core machine
LINK = re.compile(r"/q/([\w-]{20,})/")


# --- Redis -------------------------------------------------------------------------------------------------------


class RedisServer:
    """A redis-server on a free port with its data in `folder`; `restart()` is what `docker compose restart redis`
    does (SIGTERM, then start again on the same port and folder). With append_only the queue survives it, as it
    does with the compose file's Redis; without, everything queued is lost."""

    def __init__(self, folder: Path, *, append_only: bool):
        self.folder, self.append_only = folder, append_only
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        log = (self.folder / "redis.log").open("a")
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--save", "",
                "--appendonly", "yes" if self.append_only else "no",
                "--appendfsync", "always" if self.append_only else "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_until(self.answers, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def redis_server_missing() -> str | None:
    return (
        None if shutil.which("redis-server") else "needs service: redis-server (the binary) to start a Redis of its own"
    )


# --- SMTP --------------------------------------------------------------------------------------------------------


@dataclass
class Received:
    to: str
    message_id: str
    link: str
    at: float  # time.monotonic()


class Mailbox:
    """Every message the SMTP server accepted, with when it arrived.

    `hold()` keeps each message that arrives waiting before the server's reply to DATA, so a test can break
    something while a worker is mid-send; `release()` lets them through. A message whose sender vanished while held
    (its worker was killed) was never accepted: aiosmtpd cancels its handler and it is not recorded."""

    def __init__(self):
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.open = threading.Event()
        self.open.set()
        self.held = 0

    def hold(self) -> None:
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def handle_DATA(self, server, session, envelope):
        if not self.open.is_set():
            self.held += 1
            try:
                while not self.open.is_set():
                    await asyncio.sleep(0.02)
            finally:
                self.held -= 1
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(("plain",))
        match = LINK.search(body.get_content() if body else "")
        with self.lock:
            for to in envelope.rcpt_tos:
                self.messages.append(
                    Received(to=to, message_id=str(parsed["Message-ID"] or ""), link=match.group(1) if match else "",
                             at=time.monotonic())
                )  # fmt: skip
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def recipients(self) -> Counter:
        return Counter(m.to for m in self.snapshot())


class SmtpServer:
    """aiosmtpd on a fixed port that can be stopped (connections refused, as when the relay is down) and started
    again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:  # the port may linger for a moment after stop()
            try:
                self.controller.start()
                return
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.controller is not None:
            with contextlib.suppress(AssertionError, asyncio.CancelledError):
                self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


# --- Celery workers ----------------------------------------------------------------------------------------------


class Worker:
    """`celery -A config worker` exactly as docker-compose.yml's worker service runs it, with the compose
    environment pointed at the test database, our Redis and our SMTP server."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log_path = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            compose()["services"]["worker"]["command"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool's children die with it
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self) -> "Worker":
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}):\n{self.log()[-4000:]}")
            return " ready." in self.log()

        wait_until(ready, "the worker to be ready", timeout=STARTUP, every=0.2)
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and its pool at once: no warm shutdown, no chance to give tasks back."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=20)


def worker_environment(*, database_url: str, broker_url: str, smtp_url: str, var_dir: Path, extra: dict) -> dict:
    local = {
        "SECRET_KEY": "faults-" + "x" * 60,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CACHE_URL": "locmemcache://",
        "EMAIL_URL": smtp_url,
        "SITE_URL": "https://registry.example",
        "ALLOWED_HOSTS": "registry.example",
        "FHIR_SYSTEM_URI": "https://registry.example.org/fhir",
    }
    environment = compose_environment("worker", local)
    assert environment["DJANGO_ENV"] == "production"
    return minimal_env(**environment, VAR_DIR=str(var_dir), MEDIA_ROOT=str(var_dir / "media"), **extra)


# --- beat ---------------------------------------------------------------------------------------------------------


@dataclass
class Sweeper:
    """Stands in for beat: calls `sweep` every `every` seconds on a thread of its own (with its own database
    connection, closed after each sweep as a task's is). A sweep that fails (the database or broker blinked) is
    logged and followed by the next, as the next beat tick would."""

    sweep: Callable[[], object]
    every: float = 1.0
    sweeps: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sweeper")

    def _run(self) -> None:
        from django.db import connection

        while not self._stop.is_set():
            try:
                self.sweep()
                self.sweeps += 1
            except Exception as exc:  # noqa: BLE001 - the next tick is the retry, as with beat
                self.errors.append(f"{exc.__class__.__name__}: {exc}")
            finally:
                connection.close()
            self._stop.wait(self.every)

    def start(self) -> "Sweeper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

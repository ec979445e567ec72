"""Run the whole product on one machine: a Celery worker (with beat embedded) and the development web server.

`make run` calls this after `migrate` and `seed_demo`. Ctrl-C stops both. If the worker dies the command says so,
stops the web server and exits non-zero: a demo whose emails silently never arrive is worse than no demo.
"""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

READY_MARK = " ready."  # celery logs "celery@host ready." once it consumes
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


class Stop(Exception):
    """Ctrl-C, or SIGTERM from a process manager: stop both processes and exit cleanly."""


def _raise_stop(signum, frame):
    raise Stop


def worker_command() -> list[str]:
    # solo pool: one process, nothing to fork on a laptop; -B embeds beat (schedule file under var/).
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-B",
        "--loglevel=INFO",
        "--pool=solo",
        "--schedule",
        str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
    ]


def send_due_emails(stdout) -> None:
    """One sweep, sending inline, before anything starts: what is due at first start (seed_demo's patient treated in
    both knees today, with her one email listing both questionnaires) is in the dev mailbox before the banner
    says where to look, whatever the hour (the demo's sending hours are all day)."""
    with override_settings(NOTIFICATIONS_SENDING_HOURS=os.environ["NOTIFICATIONS_SENDING_HOURS"]):
        call_command("process_followups", stdout=stdout)


def server_command(address: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runserver", address]


class Command(BaseCommand):
    help = "Start the Celery worker (with beat) and the development web server; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"), help="Web port (default $PORT or 8000).")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: str, host: str, **options):
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        worker_log = log_dir / "worker.log"
        # Links in emails point at this server (the worker builds them from SITE_URL), unless SITE_URL is set.
        os.environ.setdefault("SITE_URL", f"http://{host}:{port}")
        # The demo shows its emails at any hour; production sends in clinic daytime (NOTIFICATIONS_SENDING_HOURS).
        os.environ.setdefault("NOTIFICATIONS_SENDING_HOURS", "00:00-24:00")
        self.stdout.write(
            f"Demo emails go out at any hour (NOTIFICATIONS_SENDING_HOURS={os.environ['NOTIFICATIONS_SENDING_HOURS']})."
        )
        self.stdout.write("Sending the emails due now to the dev mailbox ...")
        send_due_emails(io.StringIO())
        # Explicit handlers: a shell that starts us in the background ignores SIGINT, and SIGTERM has none by default.
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        worker = server = None
        try:
            with worker_log.open("w") as log:
                worker = subprocess.Popen(worker_command(), stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            self.stdout.write(f"Starting the Celery worker with beat (log: {worker_log}) ...")
            self._wait_until_ready(worker, worker_log)
            site = f"http://{host}:{port}"
            self.stdout.write(self._banner(site, worker_log))
            server = subprocess.Popen(server_command(f"{host}:{port}"))  # noqa: S603
            self._supervise(worker, server, worker_log)
        except (KeyboardInterrupt, Stop):
            self.stdout.write("\nStopping the web server and the worker ...")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop(server, worker)
        self.stdout.write("Stopped.")

    def _wait_until_ready(self, worker: subprocess.Popen, worker_log: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise CommandError(self._worker_died(worker, worker_log))
            if READY_MARK in worker_log.read_text(errors="replace"):
                self.stdout.write(self.style.SUCCESS("Worker ready."))
                return
            time.sleep(0.2)
        raise CommandError(f"The Celery worker did not report ready within {READY_TIMEOUT_S} s; see {worker_log}.")

    def _supervise(self, worker: subprocess.Popen, server: subprocess.Popen, worker_log: Path) -> None:
        while True:
            if worker.poll() is not None:
                raise CommandError(self._worker_died(worker, worker_log))
            if server.poll() is not None:
                if server.returncode:
                    raise CommandError(f"The web server stopped (exit code {server.returncode}); see above.")
                return
            time.sleep(0.5)

    def _worker_died(self, worker: subprocess.Popen, worker_log: Path) -> str:
        tail = "\n".join(worker_log.read_text(errors="replace").splitlines()[-15:])
        return (
            f"The Celery worker stopped (exit code {worker.returncode}): background jobs such as emails would not "
            f"run, so the demo is stopping too. Last lines of {worker_log}:\n{tail}"
        )

    def _stop(self, *processes: subprocess.Popen | None) -> None:
        running = [p for p in processes if p is not None and p.poll() is None]
        for process in running:
            # Ctrl-C already reached them (same process group); SIGTERM covers a stop from elsewhere.
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _banner(self, site: str, worker_log: Path) -> str:
        rows = [
            ("Site", f"{site}/"),
            ("Admin", f"{site}/admin/"),
            ("API docs", f"{site}/api/docs/"),
            ("Mailbox", f"{site}/dev/mailbox/  (every email the demo sends; sign in as admin)"),
            ("Worker log", str(worker_log)),
        ]
        lines = ["", "Knee Outcomes Registry is running:"]
        lines += [f"  {label:<11}{value}" for label, value in rows]
        lines += ["Sign in with a demo login printed above (also in var/demo-logins.txt). Ctrl-C stops everything.", ""]
        return self.style.SUCCESS("\n".join(lines))

"""The worker's and beat's health check (docker-compose.yml): exit 0 while the follow-up sweep keeps finishing,
1 when its last success is older than --max-sweep-age (or it never ran, or the database cannot be read).

The sweep runs every minute when beat publishes it and a worker runs it, so a stopped beat, a dead or wedged
worker, or a broker nobody consumes all show up here as one number: the age of the last sweep."""

import sys

from django.core.management.base import BaseCommand, CommandError

from notifications.heartbeat import sweep_age_seconds


class Command(BaseCommand):
    help = "Exit non-zero if the follow-up sweep has not finished successfully within --max-sweep-age seconds."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-sweep-age",
            type=int,
            default=180,
            help="Seconds since the last successful sweep before this check fails (default 180: three missed ticks).",
        )

    def handle(self, *args, max_sweep_age: int, **options):
        if max_sweep_age < 1:
            raise CommandError(f"--max-sweep-age must be at least 1 second, not {max_sweep_age}.")
        try:
            age = sweep_age_seconds()
        except Exception as exc:  # noqa: BLE001 - unreadable is unhealthy, said in one line
            self.stderr.write(f"unhealthy: cannot read the sweep's heartbeat ({exc.__class__.__name__})")
            sys.exit(1)
        if age is None:
            self.stderr.write("unhealthy: no follow-up sweep has finished yet")
            sys.exit(1)
        if age > max_sweep_age:
            self.stderr.write(f"unhealthy: the last follow-up sweep finished {age:.0f} s ago (limit {max_sweep_age} s)")
            sys.exit(1)
        self.stdout.write(f"ok: the last follow-up sweep finished {age:.0f} s ago")

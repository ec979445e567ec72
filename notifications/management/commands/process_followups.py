"""One sweep, synchronously: for cron deployments without beat, and for operators. Sends inline (no broker)."""

from django.core.management.base import BaseCommand, CommandError

from notifications import services


class Command(BaseCommand):
    help = (
        "Open due follow-ups and queue their invitations and reminders, close overdue ones as missed, queue the "
        "clinics' daily digests, then send every due email now (inline, without a broker)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-send",
            action="store_true",
            help="Schedule only; leave due emails for the workers (they are handed to the broker instead).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Emails claimed per batch (default: settings)."
        )

    def handle(self, *args, no_send: bool = False, batch_size: int | None = None, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        if batch_size is not None:
            from django.test.utils import override_settings

            with override_settings(NOTIFICATIONS_BATCH_SIZE=batch_size):
                return self._run(no_send=no_send)
        return self._run(no_send=no_send)

    def _run(self, *, no_send: bool) -> None:
        digests = services.digests_queue()

        def send_inline(ids, claim):
            return services.messages_send(ids, claim=claim)

        report = services.followups_sweep(dispatch=None if no_send else send_inline)
        out = self.stdout
        out.write(f"opened {report.opened}")
        out.write(f"invited {report.invitations}")
        out.write(f"reminders queued {report.reminders}")
        out.write(f"closed as missed {report.missed}")
        out.write(f"digests queued {digests}")
        if no_send:
            out.write(f"handed to workers {report.claimed - report.enqueue_failed}")
            if report.enqueue_failed:
                raise CommandError(f"the broker refused {report.enqueue_failed} emails; they stay queued")
            return
        out.write(f"sent {report.send.sent}")
        out.write(f"failed {report.send.failed}")
        out.write(f"retrying later {report.send.retrying}")
        out.write(f"not sent (no longer due) {report.send.cancelled}")
        out.write(f"moved {report.send.rescheduled}")

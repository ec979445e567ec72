"""Celery tasks of notifications: small shims that call a service with ids (conventions: registry.tasks)."""

import logging

from notifications import services
from registry.tasks import registry_task

logger = logging.getLogger(__name__)


@registry_task("notifications.followups_sweep", max_retries=0)
def followups_sweep() -> None:
    # No retries: the next beat tick is the retry.
    report = services.followups_sweep()
    if report.opened or report.missed or report.claimed or report.enqueue_failed:
        logger.info("Follow-up sweep: %s", report.summary())


@registry_task("notifications.send_batch", bind=True)
def send_batch(self, message_ids: list[int], claim: str | None = None) -> None:
    # The task id and retry number let a retry take back the rows its earlier run held (the service logs).
    services.messages_send(message_ids, claim=claim, task_id=self.request.id, retries=self.request.retries or 0)


@registry_task("notifications.missed_digest", max_retries=0)
def missed_digest() -> None:
    queued = services.digests_queue()
    if queued:
        logger.info("Queued %s clinic digests", queued)


@registry_task("notifications.safety_notices_catch_up", max_retries=0)
def safety_notices_catch_up() -> None:
    """Safety net: notify urgent flags and serious adverse events whose emails were never written (a crash between
    their commit and the receiver). Safety's own net re-queues the flag rules (safety.tasks.evaluate_pending)."""
    flags = services.urgent_flags_catch_up()
    events = services.serious_events_catch_up()
    if flags or events:
        logger.warning("Safety net: notified %s urgent flags and %s serious adverse events", flags, events)

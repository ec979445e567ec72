"""Celery tasks of notifications: small shims that call a service with ids (conventions: registry.tasks)."""

import datetime as dt
import logging

from django.apps import apps
from django.utils import timezone

from notifications import services
from registry.tasks import registry_task

logger = logging.getLogger(__name__)

# The flag evaluation of a submission younger than this is still the on-commit task's job, not the safety net's.
EVALUATION_GRACE = dt.timedelta(minutes=5)


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


@registry_task("notifications.evaluate_submission", autoretry_for=(Exception,), max_retries=5)
def evaluate_submission(submission_id: int) -> None:
    """Run the safety flag rules over one submission. A failure is recorded by the safety app (its Evaluation
    row), logged here and retried; the submission itself is never touched."""
    if not apps.is_installed("safety"):
        return
    from safety.services import flags_evaluate

    try:
        flags_evaluate(submission_id)
    except Exception:
        logger.exception("Flag evaluation of submission %s failed; will retry", submission_id)
        raise


@registry_task("notifications.evaluate_pending", max_retries=0)
def evaluate_pending() -> None:
    """Safety net: re-queue submissions the rules never finished with, and notify urgent flags and serious adverse
    events whose emails were never written."""
    if not apps.is_installed("safety"):
        return
    from safety.selectors import submissions_pending_evaluation

    ids = submissions_pending_evaluation(limit=500, submitted_before=timezone.now() - EVALUATION_GRACE)
    for submission_id in ids:
        evaluate_submission.delay(submission_id)
    caught_up = services.urgent_flags_catch_up()
    events = services.serious_events_catch_up()
    if ids or caught_up or events:
        logger.warning(
            "Safety net: re-queued %s flag evaluations, notified %s urgent flags and %s serious events",
            len(ids),
            caught_up,
            events,
        )


from notifications import tasks_events  # noqa: E402, F401 - registers the adverse-event export task

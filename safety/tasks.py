"""Celery tasks of the safety app: shims that call safety's services with ids (conventions: registry.tasks).

Registered names are kept from before these tasks moved here from notifications ("notifications.evaluate_*"): a
task queued under its name before a deploy must still run after it, and beat sends these names too. A name is
only a routing key; renaming one needs an alias registered for a release, so it is not worth doing.
"""

import datetime as dt
import logging

from django.utils import timezone

from registry.tasks import registry_task
from safety.exports import service as exports
from safety.selectors import submissions_pending_evaluation
from safety.services import flags_evaluate

logger = logging.getLogger(__name__)

# The flag evaluation of a submission younger than this is still the on-commit task's job, not the safety net's.
EVALUATION_GRACE = dt.timedelta(minutes=5)


@registry_task("notifications.evaluate_submission", autoretry_for=(Exception,), max_retries=5)
def evaluate_submission(submission_id: int) -> None:
    """Run the safety flag rules over one submission. A failure is recorded by the safety app (its Evaluation
    row), logged here and retried; the submission itself is never touched."""
    try:
        flags_evaluate(submission_id)
    except Exception:
        logger.exception("Flag evaluation of submission %s failed; will retry", submission_id)
        raise


@registry_task("notifications.evaluate_pending", max_retries=0)
def evaluate_pending() -> None:
    """Safety net: re-queue submissions the rules never finished with. (The notices of urgent flags and serious
    adverse events have their own net: notifications.tasks.safety_notices_catch_up.)"""
    ids = submissions_pending_evaluation(limit=500, submitted_before=timezone.now() - EVALUATION_GRACE)
    for submission_id in ids:
        evaluate_submission.delay(submission_id)
    if ids:
        logger.warning("Safety net: re-queued %s flag evaluations", len(ids))


# No automatic retry: a failed export is recorded on its job and the requester asks again; a long one must not
# run twice. Time limits fit a report of a few hundred thousand rows.
@registry_task("safety.export_job_run", autoretry_for=(), max_retries=0, soft_time_limit=1800, time_limit=1900)
def export_job_run(job_id: int) -> None:
    exports.export_job_run(job_id)


@registry_task("safety.export_files_expire", max_retries=0)
def export_files_expire() -> None:
    exports.export_files_expire()

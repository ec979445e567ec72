"""Safety's answers to the domain events of the apps below it (outcomes). Receivers are thin: they queue a task."""

import logging

from django.db import transaction
from django.dispatch import receiver

from outcomes import signals as outcomes_signals
from safety.tasks import evaluate_submission

logger = logging.getLogger(__name__)


@receiver(outcomes_signals.questionnaire_submitted, dispatch_uid="safety.questionnaire_submitted")
def questionnaire_submitted(sender, submission, **kwargs):
    """The flag rules run in the background (a failure there is retried and never touches the stored
    submission)."""
    submission_id = submission.pk

    def enqueue() -> None:
        try:
            evaluate_submission.delay(submission_id)
        except Exception:  # broker down: the safety-net sweep finds the unevaluated submission
            logger.exception("Could not queue the flag evaluation of submission %s", submission_id)

    transaction.on_commit(enqueue)

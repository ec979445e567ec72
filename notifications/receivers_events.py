"""Adverse events' signals (safety.signals_events), imported by notifications.receivers.

A serious event: an urgent email to the clinic lead(s) through the same outbox as urgent flags (kind
"urgent_flag", "Urgent safety report"), at once and not waiting for sending hours. One row per event and
recipient (dedupe_key), so a repeated signal never emails twice. An export job: queued for a Celery worker."""

import logging

from django.dispatch import receiver

from notifications.services.clinic import serious_event_notify
from safety import signals_events

logger = logging.getLogger(__name__)


@receiver(signals_events.adverse_event_serious, dispatch_uid="notifications.adverse_event_serious")
def adverse_event_serious(sender, event, **kwargs):
    serious_event_notify(event)


@receiver(signals_events.export_job_requested, dispatch_uid="notifications.export_job_requested")
def export_job_requested(sender, job_id, **kwargs):
    from notifications.tasks_events import export_job_run

    try:
        export_job_run.delay(job_id)
    except Exception:  # broker down: the job stays "queued" on its page; the requester can ask again
        logger.exception("Could not queue export job %s", job_id)

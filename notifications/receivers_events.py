"""Adverse events' signals (safety.signals_events), imported by notifications.receivers.

A serious event: an urgent email to the clinic lead(s) through the same outbox as urgent flags (kind
"urgent_flag", "Urgent safety report"), at once and not waiting for sending hours. One row per event and
recipient (dedupe_key), so a repeated signal never emails twice. An export job: queued for a Celery worker."""

import logging

from django.apps import apps
from django.dispatch import receiver
from django.utils import timezone

from notifications.models import MessageKind, OutboundMessage
from notifications.services.clinic import _write, send_soon
from registry.choices import WRITING_ROLES, Role
from registry.models import Membership

logger = logging.getLogger(__name__)


def _recipients(clinic_id: int) -> list[int]:
    staff = Membership.objects.filter(clinic_id=clinic_id, user__is_active=True).exclude(user__email="")
    leads = list(staff.filter(role=Role.LEAD).values_list("user_id", flat=True).distinct())
    if leads:
        return leads
    # No lead with an email address: the clinic's clinical staff must hear of it instead of nobody.
    logger.error("Serious adverse event in clinic %s, which has no lead with an email: telling its staff", clinic_id)
    return list(staff.filter(role__in=WRITING_ROLES).values_list("user_id", flat=True).distinct())


def serious_event_notify(event) -> list[int]:
    now = timezone.now()
    rows = [
        OutboundMessage(
            kind=MessageKind.URGENT_FLAG,
            clinic_id=event.clinic_id,
            patient_id=event.patient_id,
            recipient_user_id=user_id,
            dedupe_key=f"adverse_event:{event.pk}:user:{user_id}",
            scheduled_for=now,
            # No clinical detail in the email: it points to the event's page, where access is checked.
            context={"adverse_event_id": event.pk, "url": f"/adverse-events/{event.pk}/"},
        )
        for user_id in _recipients(event.clinic_id)
    ]
    if not rows:
        logger.error("Serious adverse event %s: nobody in clinic %s to email", event.pk, event.clinic_id)
        return []
    ids = _write(rows)
    send_soon(ids)
    return ids


if apps.is_installed("safety"):
    from safety import signals_events

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

"""Emails to clinic staff that go at once: urgent safety flags, serious adverse events, locked questionnaire links.

The rows are written first (same transaction as whatever called), then a send task is queued on commit. If the
broker is down the rows are simply pending and due, and the next sweep sends them.
"""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from notifications.models import MessageKind, OutboundMessage
from registry.choices import WRITING_ROLES, Role
from registry.models import Membership
from safety.models import AdverseEvent, Flag

logger = logging.getLogger(__name__)


def send_soon(message_ids: list[int]) -> None:
    """Queue these rows for sending once the current transaction commits (at once outside one)."""
    if not message_ids:
        return

    def enqueue() -> None:
        from notifications.tasks import send_batch

        try:
            send_batch.apply_async(args=(list(message_ids),), retry=True, retry_policy={"max_retries": 1})
        except Exception:  # broker down: the rows are pending and due, the sweep sends them
            logger.exception("Could not queue %s messages; the next sweep will send them", len(message_ids))

    transaction.on_commit(enqueue)


def _write(rows: list[OutboundMessage]) -> list[int]:
    OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    # ignore_conflicts leaves ids unset on some databases: read back the rows that are still waiting.
    return list(
        OutboundMessage.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows], status="pending").values_list(
            "id", flat=True
        )
    )


def urgent_flag_notify(flag, *, now: dt.datetime | None = None) -> list[int]:
    """An urgent flag: one email to every clinician and lead of its clinic, now (not waiting for sending hours).
    Idempotent per flag and recipient."""
    now = now or timezone.now()
    staff = (
        Membership.objects.filter(clinic_id=flag.clinic_id, role__in=WRITING_ROLES, user__is_active=True)
        .exclude(user__email="")
        .values_list("user_id", flat=True)
        .distinct()
    )
    rows = [
        OutboundMessage(
            kind=MessageKind.URGENT_FLAG,
            clinic_id=flag.clinic_id,
            patient_id=flag.patient_id,
            follow_up_id=getattr(flag, "follow_up_id", None),
            recipient_user_id=user_id,
            dedupe_key=f"flag:{flag.id}:user:{user_id}",
            scheduled_for=now,
            context={"flag_id": flag.id},
        )
        for user_id in staff
    ]
    if not rows:
        logger.error("Urgent flag %s: clinic %s has no clinical staff with an email address", flag.id, flag.clinic_id)
        return []
    ids = _write(rows)
    send_soon(ids)
    return ids


def urgent_flags_catch_up(*, now: dt.datetime | None = None, within: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Safety net: urgent flags raised recently whose notice rows were never written (a crash between the
    flag's commit and its signal's receiver)."""
    now = now or timezone.now()
    flags = list(Flag.objects.filter(urgent=True, raised_at__gte=now - within))
    if not flags:
        return 0
    notified = set(
        OutboundMessage.objects.filter(
            kind=MessageKind.URGENT_FLAG, context__flag_id__in=[f.id for f in flags]
        ).values_list("context__flag_id", flat=True)
    )
    missing = [flag for flag in flags if flag.id not in notified]
    for flag in missing:
        urgent_flag_notify(flag, now=now)
    return len(missing)


def link_locked_notify(link, *, now: dt.datetime | None = None) -> list[int]:
    """A questionnaire link locked after failed identity checks: tell the clinic (once per link)."""
    follow_up = link.follow_up
    row = OutboundMessage(
        kind=MessageKind.LINK_LOCKED,
        clinic_id=follow_up.clinic_id,
        follow_up_id=follow_up.pk,
        patient_id=follow_up.patient_id,
        dedupe_key=f"link_locked:{link.pk}",
        scheduled_for=now or timezone.now(),
        context={"link_id": link.pk},
    )
    ids = _write([row])
    send_soon(ids)
    return ids


def _serious_event_recipients(clinic_id: int) -> list[int]:
    staff = Membership.objects.filter(clinic_id=clinic_id, user__is_active=True).exclude(user__email="")
    leads = list(staff.filter(role=Role.LEAD).values_list("user_id", flat=True).distinct())
    if leads:
        return leads
    # No lead with an email address: the clinic's clinical staff must hear of it instead of nobody.
    logger.error("Serious adverse event in clinic %s, which has no lead with an email: telling its staff", clinic_id)
    return list(staff.filter(role__in=WRITING_ROLES).values_list("user_id", flat=True).distinct())


def serious_event_notify(event, *, now: dt.datetime | None = None) -> list[int]:
    """A serious adverse event: an urgent email to the clinic lead(s), at once, whatever the hour. One row per
    event and recipient (dedupe_key), so a repeated call never emails twice."""
    now = now or timezone.now()
    rows = [
        OutboundMessage(
            kind=MessageKind.SERIOUS_EVENT,
            clinic_id=event.clinic_id,
            patient_id=event.patient_id,
            recipient_user_id=user_id,
            dedupe_key=f"adverse_event:{event.pk}:user:{user_id}",
            scheduled_for=now,
            # No clinical detail in the email: it points to the event's page, where access is checked.
            context={"adverse_event_id": event.pk, "url": f"/adverse-events/{event.pk}/"},
        )
        for user_id in _serious_event_recipients(event.clinic_id)
    ]
    if not rows:
        logger.error("Serious adverse event %s: nobody in clinic %s to email", event.pk, event.clinic_id)
        return []
    ids = _write(rows)
    send_soon(ids)
    return ids


def serious_events_catch_up(*, now: dt.datetime | None = None, within: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Safety net: events that became serious recently whose notice rows were never written (a crash between the
    event's commit and its signal's receiver)."""
    now = now or timezone.now()
    recent = AdverseEvent.history.filter(is_serious=True, history_date__gte=now - within).values("id")
    events = list(AdverseEvent.objects.filter(is_serious=True, pk__in=recent))
    if not events:
        return 0
    notified = set(
        OutboundMessage.objects.filter(
            kind=MessageKind.SERIOUS_EVENT, context__adverse_event_id__in=[e.pk for e in events]
        ).values_list("context__adverse_event_id", flat=True)
    )
    missing = [event for event in events if event.pk not in notified]
    for event in missing:
        serious_event_notify(event, now=now)
    return len(missing)

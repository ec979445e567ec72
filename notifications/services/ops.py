"""What an operator may do to the outbox from the ops page: give a failed email another try."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AccessAction
from audit.services import access_log_record
from notifications.models import MessageStatus, OutboundMessage


def message_requeue(*, message_id: int, by, reason: str, request=None, now: dt.datetime | None = None) -> None:
    """Make a failed message pending and due now, with a fresh series of attempts (its earlier attempts stay in
    DeliveryAttempt), and record who did it and why in the audit log. Only a failed message: one that is queued,
    being sent, sent or deliberately not sent is refused, so a requeue can never send anything twice."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for requeueing this message.", code="reason_required")
    now = now or timezone.now()
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise OutboundMessage.DoesNotExist
        if message.status != MessageStatus.FAILED:
            raise ValidationError(
                f"Message #{message.pk} is {message.get_status_display().lower()}, not rejected: "
                "only a rejected (failed) message can be requeued.",
                code="not_failed",
            )
        # Conditional on the state just read, like every other outbox transition.
        OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING,
            scheduled_for=now,
            attempts=0,
            claimed_by="",
            claimed_at=None,
            lease_expires_at=None,
            handed_over_at=None,
            updated_at=now,
        )
        access_log_record(
            request,
            action=AccessAction.REQUEUE,
            obj=message,
            user=by,
            # Not the last error: it can name the patient's address, and the trail leaves the clinic as CSV.
            detail=f"Requeued {message.get_kind_display().lower()} #{message.pk}: {reason}",
        )

"""Recording a provider's delivery receipt, and what a failure means for the patient.

One write path for every provider: `receipt_record` finds the rows the provider knows by its id (several for a
gathered email), stores the receipt once per row (a repeated callback has the same fingerprint and changes
nothing), and recomputes the row's state from all its receipts (notifications.receipts.current_state).

When a message newly fails for good:
- a text: the patient's number is marked refused (or their STOP recorded), their other texts cancelled, and the
  same message goes by email if the patient may be emailed;
- an email (a hard bounce): the address is marked undeliverable, their other emails cancelled, and the same
  message goes by text if the patient may be texted;
- an email reported as spam: treated as an unsubscribe, recorded on the patient.
The patient's changes go through registry services (history with the reason); the fallback row has the follow-up
and kind's dedupe key, so a second bounce or a replayed callback cannot queue it twice.
"""

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from notifications import receipts
from notifications.models import (
    PATIENT_KINDS,
    Channel,
    DeliveryReceipt,
    DeliveryState,
    MessageKind,
    MessageStatus,
    OutboundMessage,
)
from notifications.services.clinic import send_soon
from notifications.services.schedule import dedupe_key, messages_cancel, next_sending_time
from outcomes.models import FollowUpStatus
from registry import services as registry_services

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Callback:
    """One provider callback, already checked as authentic and read into the registry's words."""

    provider: str  # "notify", "twilio", or the email service's name ("mailgun")
    provider_message_id: str
    provider_status: str
    reading: receipts.Reading
    segment: str = ""
    provider_at: dt.datetime | None = None
    event_id: str = ""
    # Notify also sends back our own reference, a second way to find the row.
    reference: str = ""
    recipient: str = ""

    @property
    def fingerprint(self) -> str:
        parts = (
            self.provider,
            self.provider_message_id,
            self.provider_status,
            self.segment,
            self.provider_at.isoformat() if self.provider_at else "",
            self.event_id,
            self.recipient.lower(),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _messages_for(callback: Callback) -> list[OutboundMessage]:
    rows = []
    if callback.provider_message_id:
        rows = list(OutboundMessage.objects.filter(provider_message_id=callback.provider_message_id).order_by("id"))
    if not rows and callback.reference:
        rows = list(OutboundMessage.objects.filter(email_message_id=callback.reference, channel=Channel.SMS))
    return rows


def receipt_record(callback: Callback) -> str:
    """Store a receipt and bring its message(s) up to date: "recorded", "duplicate" (seen before: nothing
    changed) or "unknown" (no message has that id: accepted and ignored, logged)."""
    if not _messages_for(callback):
        logger.warning(
            "Delivery receipt from %s (%s) for a message id we do not know (%s): accepted and ignored",
            callback.provider,
            callback.provider_status,
            callback.provider_message_id[:80],
        )
        return "unknown"
    recorded = False
    with transaction.atomic():
        ids = [row.pk for row in _messages_for(callback)]
        # Locked in id order: two callbacks for one gathered email cannot deadlock, and each sees the other's receipt.
        for message in (
            OutboundMessage.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("patient", "clinic", "follow_up")
            .order_by("id")
        ):
            recorded |= _record_for(message, callback)
    return "recorded" if recorded else "duplicate"


def _record_for(message: OutboundMessage, callback: Callback) -> bool:
    reading = callback.reading
    _receipt, created = DeliveryReceipt.objects.get_or_create(
        message=message,
        fingerprint=callback.fingerprint,
        defaults={
            "provider": callback.provider[:32],
            "provider_message_id": callback.provider_message_id[:255],
            "provider_status": callback.provider_status[:64],
            "state": reading.state,
            "reason": reading.reason[:300],
            "segment": callback.segment[:32],
            "provider_at": callback.provider_at,
        },
    )
    if not created:
        return False
    before = message.delivery
    state, reason = receipts.current_state(
        receipts.Seen(state=s, reason=r, segment=seg, at=at or received)
        for s, r, seg, at, received in message.receipts.values_list(
            "state", "reason", "segment", "provider_at", "received_at"
        )
    )
    OutboundMessage.objects.filter(pk=message.pk).update(
        delivery=state, delivery_reason=reason, delivery_updated_at=timezone.now(), updated_at=timezone.now()
    )
    message.delivery, message.delivery_reason = state, reason
    if state != before and message.patient_id is not None:
        _act_on(message, callback, state)
    return True


def _act_on(message: OutboundMessage, callback: Callback, state: str) -> None:
    patient = message.patient
    if message.is_text and state == DeliveryState.FAILED_PERMANENT:
        if callback.reading.problem == "opted_out":
            registry_services.patient_unsubscribe_sms(patient=patient)
            why = "Patient opted out of text messages"
        else:
            registry_services.patient_phone_mark_invalid(
                patient=patient, reason=f"Not delivered: {message.delivery_reason}"
            )
            why = "Phone number refused by the text message provider"
        messages_cancel(patient_id=patient.pk, reason=why, channel=Channel.SMS)
        fallback_queue(message, channel=Channel.EMAIL)
        return
    if message.is_text:
        return
    # An email: only the patient's own address counts (a staff notice's bounce is shown, not acted on), and only
    # if it is still the address on record (a corrected one deserves its own chance).
    is_patients = message.kind in (*PATIENT_KINDS, MessageKind.SAFETY_ADVICE)
    address = (callback.recipient or message.recipient).strip().lower()
    if not is_patients or not patient.email or patient.email.strip().lower() != address:
        return
    if state == DeliveryState.FAILED_PERMANENT:
        registry_services.patient_email_mark_invalid(patient=patient, reason=message.delivery_reason or "bounced")
        messages_cancel(patient_id=patient.pk, reason="Email address bounced", channel=Channel.EMAIL)
        fallback_queue(message, channel=Channel.SMS)
    elif state == DeliveryState.COMPLAINED:
        registry_services.patient_unsubscribe_email(
            patient=patient, reason="Reported an email as spam (told by the mail service)"
        )
        messages_cancel(patient_id=patient.pk, reason="Patient reported an email as spam", channel=Channel.EMAIL)


def fallback_queue(message: OutboundMessage, *, channel: str) -> OutboundMessage | None:
    """The same questionnaire message by the other channel, if the patient may be reached that way, the follow-up
    is still open and no such row exists yet (the dedupe key). Sent soon, within sending hours."""
    follow_up = message.follow_up
    if message.kind not in PATIENT_KINDS or follow_up is None or follow_up.status != FollowUpStatus.OPEN:
        return None
    patient = type(message.patient).objects.get(pk=message.patient_id)
    if not (patient.may_email if channel == Channel.EMAIL else patient.may_text):
        return None
    now = timezone.now()
    row, created = OutboundMessage.objects.get_or_create(
        dedupe_key=dedupe_key(follow_up.pk, message.kind, channel),
        defaults={
            "kind": message.kind,
            "channel": channel,
            "clinic_id": message.clinic_id,
            "follow_up_id": follow_up.pk,
            "patient_id": patient.pk,
            "scheduled_for": next_sending_time(tz=message.clinic.tzinfo, not_before=now),
            "status": MessageStatus.PENDING,
            "context": {"fallback_for": message.pk},
        },
    )
    if not created:
        return None
    logger.info("Message %s did not arrive: message %s queued by %s instead", message.pk, row.pk, channel)
    if row.scheduled_for <= now:
        send_soon([row.pk])
    return row

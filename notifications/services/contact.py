"""Contact with patients outside the outbox: staff phone calls on the chase list, the unsubscribe link, and the
erasure of a patient's contact details from what notifications keeps."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.erasure import scrub_rows
from notifications.models import (
    CallAttempt,
    CallOutcome,
    Channel,
    DeliveryAttempt,
    DeliveryReceipt,
    OutboundMessage,
    UnsubscribeToken,
    hash_unsubscribe_token,
)
from notifications.services.schedule import messages_cancel
from outcomes.models import FollowUp, FollowUpStatus
from registry import services as registry_services
from registry.models import Patient

MAX_NOTE = 2000


@transaction.atomic
def call_attempt_record(*, follow_up: FollowUp, by, outcome: str, note: str = "") -> CallAttempt:
    """A chase call and how it went. "Declined" also stops the remaining emails for this follow-up."""
    if outcome not in CallOutcome.values:
        raise ValidationError({"outcome": f"Choose one of: {', '.join(CallOutcome.values)}."})
    if follow_up.status != FollowUpStatus.OPEN:
        raise ValidationError(f"This follow-up is {follow_up.get_status_display().lower()}; there is nothing to chase.")
    note = (note or "").replace("\x00", "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": f"Keep the note under {MAX_NOTE} characters."})
    attempt = CallAttempt.objects.create(
        follow_up=follow_up, clinic_id=follow_up.clinic_id, called_by=by, outcome=outcome, note=note
    )
    if outcome == CallOutcome.DECLINED:
        messages_cancel(follow_up_ids=[follow_up.pk], reason="Patient declined on the phone")
    return attempt


def unsubscribe_resolve(token: str) -> UnsubscribeToken | None:
    """The unsubscribe link's row, without changing anything (mail scanners open links too)."""
    if not token or len(token) > 128:
        return None
    return (
        UnsubscribeToken.objects.select_related("patient", "patient__clinic")
        .filter(token_hash=hash_unsubscribe_token(token))
        .first()
    )


@transaction.atomic
def unsubscribe_confirm(*, token: UnsubscribeToken) -> Patient:
    """The patient confirmed: no more email from the registry. Recorded on the patient (with history, so the
    clinic sees it) and every pending email to them is cancelled at once."""
    patient = registry_services.patient_unsubscribe_email(patient=token.patient)
    UnsubscribeToken.objects.filter(pk=token.pk, used_at__isnull=True).update(used_at=timezone.now())
    messages_cancel(patient_id=patient.pk, reason="Patient unsubscribed from email", channel=Channel.EMAIL)
    return patient


def contact_copies_erase(*, patient: Patient, values: list[str]) -> int:
    """The patient's name, email and phone out of sent emails' addresses, delivery errors and call notes (the
    erasure's transaction: audit.erasure). The number of rows changed."""
    return sum(
        scrub_rows(queryset, fields, values)
        for queryset, fields in (
            (OutboundMessage.objects.filter(patient=patient), ["recipient", "last_error", "cancelled_reason"]),
            (DeliveryAttempt.objects.filter(message__patient=patient), ["error"]),
            (DeliveryReceipt.objects.filter(message__patient=patient), ["reason"]),
            (CallAttempt.objects.filter(follow_up__patient=patient), ["note"]),
        )
    )

"""The patient's written copy of the advice an urgent answer brings (outcomes: Submission.urgent_answers): contact
the clinic today or go to a hospital emergency department, with the clinic's phone number.

- Written to the outbox in the submission's own transaction (outcomes' urgent_answers_given signal), once per
  submission (the dedupe key), and queued to send when the answers commit.
- Sent at once, at any hour: advice to get care today cannot wait for the sending hours; a failed attempt is
  retried after the usual backoff, never held to the next morning.
- Re-checked when it is sent, like every patient email (Patient.may_email): not after consent is withdrawn, not
  without consent to email contact or an address, and not after the patient unsubscribed. The unsubscribe page
  promises "you will not get any more emails"; this email is a copy of what the thanks page in front of the
  patient already says, and the clinic is alerted at once by its urgent flag, so the promise is kept.
- Not for answers staff entered from paper or a phone call: the clinic has them in front of it and tells the
  patient itself; an email days later saying "today" would mislead.
- Not sent at all once ADVICE_VALID_FOR has passed since the answers (a mail server down overnight): "contact the
  clinic today" would no longer be true, and the clinic has been alerted.
- Like every patient email it carries no clinical detail (an inbox can be shared): it does not say which answer.
"""

import datetime as dt

from django.utils import timezone

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from notifications.services.clinic import send_soon
from outcomes.models import SubmissionSource

ADVICE_VALID_FOR = dt.timedelta(hours=12)
# The patient gave these answers themselves (their own link, or the clinic's tablet).
PATIENT_SOURCES = (SubmissionSource.PATIENT_LINK, SubmissionSource.CLINIC_TABLET)


def safety_advice_write(submission, *, now: dt.datetime | None = None) -> list[int]:
    """Queue the advice email for a submission with an urgent answer. Idempotent: once per submission."""
    if submission.source not in PATIENT_SOURCES or not submission.urgent_answers():
        return []
    now = now or timezone.now()
    row = OutboundMessage(
        kind=MessageKind.SAFETY_ADVICE,
        clinic_id=submission.clinic_id,
        patient_id=submission.follow_up.patient_id,
        follow_up_id=submission.follow_up_id,
        dedupe_key=f"safety-advice:{submission.pk}",
        scheduled_for=now,
        context={
            "submission_id": submission.pk,
            "answered_at": submission.submitted_at.isoformat(),
            # Chest pain, breathlessness, a swollen face: the email says 999 first (it still says no answer).
            "emergency": bool(submission.emergency_answers()),
        },
    )
    OutboundMessage.objects.bulk_create([row], ignore_conflicts=True)  # the dedupe key makes a repeat a no-op
    ids = list(
        OutboundMessage.objects.filter(dedupe_key=row.dedupe_key, status=MessageStatus.PENDING).values_list(
            "id", flat=True
        )
    )
    send_soon(ids)
    return ids


def safety_advice_reason_not_to_send(message: OutboundMessage, now: dt.datetime) -> str | None:
    """The send-time check: None to send now, else why not."""
    answered_at = message.context.get("answered_at")
    answered_at = dt.datetime.fromisoformat(answered_at) if answered_at else message.created_at
    if now - answered_at > ADVICE_VALID_FOR:
        hours = int(ADVICE_VALID_FOR.total_seconds() // 3600)
        return f"Advice too late to be useful (more than {hours} hours after the answers)"
    return None

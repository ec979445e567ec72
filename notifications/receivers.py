"""Notifications' answers to the domain events of the apps below it. Receivers are thin: they call services.

Signals sent inside a service's transaction (registry's; outcomes' completion and urgent answers; audit's erasure)
do their writes in that same transaction; the ones sent after commit (outcomes' link lock; safety's flag and
serious adverse event) write rows and queue their sending at once. Notifications only sends messages: the flag
rules and exports are safety's own work (safety.receivers, safety.tasks).
"""

from anymail import signals as anymail_signals
from django.dispatch import receiver
from django.utils import timezone

from audit import signals as audit_signals
from notifications import receipts, services
from notifications.models import PATIENT_KINDS, MessageStatus, OutboundMessage
from outcomes import signals as outcomes_signals
from outcomes.models import FollowUp, FollowUpStatus
from registry import signals as registry_signals
from safety import signals as safety_signals


@receiver(registry_signals.injection_recorded, dispatch_uid="notifications.invite_open_follow_ups")
def invite_open_follow_ups(sender, injection, **kwargs):
    """A follow-up may be open from the start (the baseline, or a back-dated injection): the sweep never "opens"
    it, so its emails are written here. Runs after outcomes' receiver (outcomes is earlier in INSTALLED_APPS,
    so it connected first) inside the same transaction."""
    open_ids = list(
        FollowUp.objects.filter(plan_id=injection.plan_id, status=FollowUpStatus.OPEN).values_list("id", flat=True)
    )
    if not open_ids:
        return
    services.messages_schedule(follow_up_ids=open_ids)
    due = OutboundMessage.objects.filter(
        follow_up_id__in=open_ids, status=MessageStatus.PENDING, scheduled_for__lte=timezone.now()
    ).values_list("id", flat=True)
    services.send_soon(list(due))


@receiver(outcomes_signals.follow_up_rescheduled, dispatch_uid="notifications.move_messages")
def move_messages(sender, follow_up, **kwargs):
    services.messages_reschedule(follow_up=follow_up)


@receiver(outcomes_signals.follow_ups_cancelled, dispatch_uid="notifications.cancel_follow_up_messages")
def cancel_follow_up_messages(sender, follow_ups, **kwargs):
    reasons = {f.cancelled_reason for f in follow_ups if f.cancelled_reason}
    reason = f"Follow-up cancelled: {reasons.pop()}" if len(reasons) == 1 else "Follow-up cancelled"
    services.messages_cancel(follow_up_ids=[f.pk for f in follow_ups], reason=reason)


@receiver(registry_signals.consent_withdrawn, dispatch_uid="notifications.cancel_patient_messages")
def cancel_patient_messages(sender, patient, **kwargs):
    services.messages_cancel(patient_id=patient.pk, reason="Consent withdrawn")


@receiver(outcomes_signals.follow_up_completed, dispatch_uid="notifications.follow_up_completed")
def follow_up_completed(sender, follow_up, **kwargs):
    # In the submission's own transaction (a savepoint): the answers and the end of their reminders commit together
    # (one commit per submission). If this fails the answers are stored anyway, and the send-time check cancels
    # any reminder still waiting, as it does for one a worker had already claimed.
    services.messages_cancel(follow_up_ids=[follow_up.pk], kinds=PATIENT_KINDS, reason="Questionnaire completed")


@receiver(outcomes_signals.urgent_answers_given, dispatch_uid="notifications.safety_advice")
def safety_advice(sender, submission, **kwargs):
    # In the submission's transaction (a savepoint): the patient's advice email commits with the answers.
    services.safety_advice_write(submission)


@receiver(outcomes_signals.link_locked, dispatch_uid="notifications.link_locked")
def link_locked(sender, link, **kwargs):
    services.link_locked_notify(link)


@receiver(audit_signals.contact_details_erasing, dispatch_uid="notifications.contact_details_erasing")
def contact_details_erasing(sender, patient, values, **kwargs):
    services.contact_copies_erase(patient=patient, values=values)


@receiver(safety_signals.flag_raised, dispatch_uid="notifications.flag_raised")
def flag_raised(sender, flag, **kwargs):
    # Non-urgent flags are counted in the clinic's daily digest; urgent ones cannot wait for it.
    if flag.urgent:
        services.urgent_flag_notify(flag)


@receiver(safety_signals.adverse_event_serious, dispatch_uid="notifications.adverse_event_serious")
def adverse_event_serious(sender, event, **kwargs):
    # An urgent email to the clinic lead(s), at once, whatever the hour; once per event and recipient.
    services.serious_event_notify(event)


@receiver(anymail_signals.tracking, dispatch_uid="notifications.email_tracked")
def email_tracked(sender, event, esp_name, **kwargs):
    """An email service's tracking event (already checked by anymail's webhook view): a delivery receipt."""
    reading = receipts.read_anymail(event.event_type, event.description or event.mta_response or "")
    if reading is None or not event.message_id:
        return
    services.receipt_record(
        services.Callback(
            provider=esp_name.lower(),
            provider_message_id=str(event.message_id),
            provider_status=str(event.event_type),
            reading=reading,
            provider_at=event.timestamp,
            event_id=str(event.event_id or ""),
            recipient=str(event.recipient or ""),
        )
    )

"""Notifications' answers to the domain events of the apps below it. Receivers are thin: they call services.

Signals sent inside a service's transaction (registry's; audit's erasure) do their writes in that same transaction; the
ones sent after commit (outcomes' submission, link lock; safety's flag) queue their work on commit.
"""

import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from audit import signals as audit_signals
from notifications import services
from notifications.models import PATIENT_KINDS, MessageStatus, OutboundMessage
from outcomes import signals as outcomes_signals
from outcomes.models import FollowUp, FollowUpStatus
from registry import signals as registry_signals
from safety import signals as safety_signals

logger = logging.getLogger(__name__)


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
    # In the submission's own transaction: the answers and the end of their reminders commit together (one
    # commit per submission), and the send-time check still catches a reminder a worker had already claimed.
    services.messages_cancel(follow_up_ids=[follow_up.pk], kinds=PATIENT_KINDS, reason="Questionnaire completed")


@receiver(outcomes_signals.urgent_answers_given, dispatch_uid="notifications.safety_advice")
def safety_advice(sender, submission, **kwargs):
    # In the submission's transaction: the patient's advice email commits (or not) with the answers.
    services.safety_advice_write(submission)


@receiver(outcomes_signals.questionnaire_submitted, dispatch_uid="notifications.questionnaire_submitted")
def questionnaire_submitted(sender, submission, **kwargs):
    """The flag rules run in the background (a failure there is retried and never touches the stored
    submission)."""
    submission_id = submission.pk

    def enqueue() -> None:
        from notifications.tasks import evaluate_submission

        try:
            evaluate_submission.delay(submission_id)
        except Exception:  # broker down: the safety-net sweep finds the unevaluated submission
            logger.exception("Could not queue the flag evaluation of submission %s", submission_id)

    transaction.on_commit(enqueue)


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


from notifications import receivers_events  # noqa: E402, F401 - serious adverse events -> urgent email to the lead

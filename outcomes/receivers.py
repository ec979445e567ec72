"""Outcomes' answers to the registry's domain events. Each runs inside the registry's transaction."""

from django.dispatch import receiver

from outcomes import reminders, services
from registry import signals


@receiver(signals.injection_recorded, dispatch_uid="outcomes.schedule_follow_ups")
def schedule_follow_ups(sender, injection, **kwargs):
    if injection.number_in_plan == 1:
        services.follow_ups_schedule(plan=injection.plan, injection=injection)


@receiver(signals.injection_date_changed, dispatch_uid="outcomes.move_follow_ups")
def move_follow_ups(sender, injection, previous_date, **kwargs):
    services.follow_ups_reschedule(injection=injection)


@receiver(signals.consent_withdrawn, dispatch_uid="outcomes.cancel_follow_ups")
def cancel_follow_ups(sender, patient, **kwargs):
    services.follow_ups_cancel_for_patient(patient=patient, reason="Consent withdrawn")


@receiver(signals.patient_enrolled, dispatch_uid="outcomes.allocate_to_reminder_comparison")
def allocate_to_reminder_comparison(sender, patient, **kwargs):
    reminders.patient_allocate(patient=patient)

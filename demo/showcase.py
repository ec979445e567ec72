"""The demo's showcase patients, made to look as if the clinic had recorded them as it went.

seed_demo records every showcase injection through the registry's services today. Left at that, a first injection
from four months ago would look recorded four months late: its baseline "not collected", every status change
stamped today (so the attention page's "missed this week" would list follow-ups that closed months ago), and the
audit trail would say everything happened this morning. `stamp_history` rewrites those times to when each thing
would have happened, from the day the injection was recorded, and nothing ends up dated in the future.

Like demo.synth it writes every app's tables, so it lives above the apps (in demo, the top layer).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from notifications.models import MessageStatus, OutboundMessage
from notifications.services import messages_cancel
from outcomes import schedule
from outcomes.models import FollowUp, FollowUpStatus
from registry.models import Injection, Patient, TreatmentPlan


def _at(day: dt.date, tz, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz).astimezone(dt.UTC)


def stamp_history(patient: Patient, *, recorded_on: dt.date, hour: int = 10) -> None:
    """The patient enrolled and their injections recorded on `recorded_on` (clinic time); every follow-up's window
    and status as the sweeps would have left them by today, each status stamped when it would have changed."""
    tz = patient.clinic.tzinfo
    now = timezone.now()
    today = now.astimezone(tz).date()
    recorded_at = min(_at(recorded_on, tz, hour, 5), now)
    plans = TreatmentPlan.objects.filter(patient=patient)
    injections = Injection.objects.filter(patient=patient)
    Patient.objects.filter(pk=patient.pk).update(created_at=recorded_at, updated_at=recorded_at)
    plans.update(created_at=recorded_at)
    injections.update(created_at=recorded_at, updated_at=recorded_at)

    closed = []
    for follow_up in FollowUp.objects.filter(patient=patient).select_related("plan"):
        first = follow_up.injection_day
        window = {
            w.timepoint: w
            for w in schedule.windows(injected_on=first, recorded_on=recorded_on, product=follow_up.plan.product)
        }[follow_up.timepoint]
        follow_up.opens_on, follow_up.due_on, follow_up.closes_on = window.opens_on, window.due_on, window.closes_on
        if not window.collectable:
            status, changed = FollowUpStatus.NOT_COLLECTED, recorded_at
        else:
            status = follow_up.status_on(today)
            changed = {
                FollowUpStatus.SCHEDULED: recorded_at,
                FollowUpStatus.OPEN: max(_at(window.opens_on, tz, 0, 5), recorded_at),
                FollowUpStatus.MISSED: _at(window.closes_on + dt.timedelta(days=1), tz, 0, 5),
            }[status]
        if status == FollowUpStatus.MISSED:
            closed.append(follow_up.pk)
        FollowUp.objects.filter(pk=follow_up.pk).update(
            opens_on=window.opens_on,
            due_on=window.due_on,
            closes_on=window.closes_on,
            status=status,
            status_changed_at=min(changed, now),
            created_at=recorded_at,
        )
    # What the sweep would have done when those windows closed: their emails are no longer due.
    messages_cancel(follow_up_ids=closed, reason="Questionnaire window closed unanswered")
    OutboundMessage.objects.filter(follow_up_id__in=closed, status=MessageStatus.CANCELLED).update(
        created_at=recorded_at
    )
    # The audit trail says when each record was written.
    for model, ids in (
        (Patient, [patient.pk]),
        (TreatmentPlan, list(plans.values_list("pk", flat=True))),
        (Injection, list(injections.values_list("pk", flat=True))),
        (FollowUp, list(FollowUp.objects.filter(patient=patient).values_list("pk", flat=True))),
    ):
        model.history.model.objects.filter(id__in=ids).update(history_date=recorded_at)


def send_now(patient: Patient) -> int:
    """Make the patient's queued questionnaire emails due at once (the demo shows them at first start, whatever
    the hour); returns how many."""
    return OutboundMessage.objects.filter(patient=patient, status=MessageStatus.PENDING, kind="invitation").update(
        scheduled_for=timezone.now()
    )


def cancelled_by_now(patient: Patient) -> int:
    """Emails cancelled because the patient answered before they were due (the demo answers at seeding time, perhaps
    before the sending hours): dated when cancelled, so no date in the demo lies ahead; returns how many."""
    now = timezone.now()
    return OutboundMessage.objects.filter(
        patient=patient, status=MessageStatus.CANCELLED, scheduled_for__gt=now
    ).update(scheduled_for=now)

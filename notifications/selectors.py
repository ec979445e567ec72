"""Reads for notifications, already scoped to what the user may see (registry.scoping decides)."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from notifications.models import (
    CALL_OUTCOMES_CLOSING_CHASE,
    PATIENT_KINDS,
    UNDELIVERED_STATES,
    CallAttempt,
    MessageStatus,
    OutboundMessage,
)
from outcomes.models import FollowUp, FollowUpStatus
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from registry.scoping import clinics_for


def messages_for(user) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(clinic__in=clinics_for(user).values("id"))


def patient_messages(patient) -> QuerySet[OutboundMessage]:
    """Every email and text about this patient, newest first, with what the tracking needs (one query); the
    delivery state from the providers' receipts is on the row itself."""
    return (
        OutboundMessage.objects.filter(patient=patient)
        .select_related("follow_up", "link", "recipient_user")
        .order_by("-scheduled_for", "-id")
    )


def chase_base(clinic_ids) -> QuerySet[FollowUp]:
    """Open follow-ups the emails have not brought in, for a phone call: every email has gone (sent, rejected or
    cancelled), or at once if the patient cannot be emailed at all. A call that ended the chase (declined, wrong number)
    takes it off the list. Most urgent first: the window closing soonest."""
    pending = OutboundMessage.objects.filter(
        follow_up=OuterRef("pk"),
        kind__in=list(PATIENT_KINDS),
        status__in=[MessageStatus.PENDING, MessageStatus.SENDING],
    )
    emailed = OutboundMessage.objects.filter(follow_up=OuterRef("pk"), kind__in=list(PATIENT_KINDS)).exclude(
        status__in=[MessageStatus.PENDING, MessageStatus.SENDING]
    )
    cannot_email = (
        Q(patient__email="")
        | Q(patient__consent_email_contact=False)
        | Q(patient__email_opted_out_at__isnull=False)
        | Q(patient__email_invalid_at__isnull=False)
    )
    closed = CallAttempt.objects.filter(follow_up=OuterRef("pk"), outcome__in=list(CALL_OUTCOMES_CLOSING_CHASE))
    return (
        FollowUp.objects.filter(clinic__in=clinic_ids, status=FollowUpStatus.OPEN, patient__consent_withdrawn_at=None)
        # A message that did not arrive (bounced, refused) is worth a call at once, whatever else is queued.
        .filter((~Exists(pending) & Exists(emailed)) | cannot_email | Exists(undelivered_messages()))
        .filter(~Exists(closed))
        # A safety check is worth a call only while its few days last: one the sweep has not yet marked missed is
        # not chased after its window (a call about "day 3" on day 9 asks nothing useful).
        .exclude(timepoint__in=SAFETY_CHECK_TIMEPOINTS, closes_on__lt=timezone.localdate())
    )


def undelivered_messages() -> QuerySet[OutboundMessage]:
    """The follow-up's patient messages that the provider said did not arrive (for an Exists/Subquery)."""
    return OutboundMessage.objects.filter(
        follow_up=OuterRef("pk"), kind__in=list(PATIENT_KINDS), delivery__in=list(UNDELIVERED_STATES)
    )


def chase_queryset(clinic_ids) -> QuerySet[FollowUp]:
    """The chase list: first the patients whose messages did not arrive (a bounce, a refused number), then the
    window closing soonest. The reason of the latest one that did not arrive comes along (no query per row)."""
    last_call = CallAttempt.objects.filter(follow_up=OuterRef("pk")).order_by("-called_at", "-id")
    last_undelivered = undelivered_messages().order_by("-delivery_updated_at", "-id")
    return (
        chase_base(clinic_ids)
        .annotate(
            call_count=Count("call_attempts", distinct=True),
            last_call_outcome=Subquery(last_call.values("outcome")[:1]),
            last_call_at=Subquery(last_call.values("called_at")[:1]),
            not_arrived=Exists(undelivered_messages()),
            not_arrived_channel=Subquery(last_undelivered.values("channel")[:1]),
            not_arrived_reason=Subquery(last_undelivered.values("delivery_reason")[:1]),
        )
        .select_related("patient", "clinic", "plan")
        .order_by("-not_arrived", "closes_on", "id")
    )


def chase_list_for(user) -> QuerySet[FollowUp]:
    return chase_queryset(clinics_for(user).values("id"))


def missed_for(user, *, closed_since: dt.date | None = None) -> QuerySet[FollowUp]:
    """Follow-ups that closed unanswered (for the clinic's dashboard), most recently closed first. "Closed since"
    goes by the window's last day, not by when the status was written: a status set late (a sweep that did not
    run, imported history) must not make an old follow-up look recent."""
    missed = FollowUp.objects.filter(clinic__in=clinics_for(user).values("id"), status=FollowUpStatus.MISSED)
    if closed_since is not None:
        missed = missed.filter(closes_on__gte=closed_since)
    return missed.select_related("patient", "clinic", "plan").order_by("-closes_on", "-id")


def days_left(follow_up: FollowUp, now: dt.datetime | None = None) -> int:
    today = (now or timezone.now()).astimezone(follow_up.clinic.tzinfo).date()
    return (follow_up.closes_on - today).days

"""The minute-by-minute sweep and the daily digest.

Its work is proportional to what is due: outcomes' open/close queries use partial indexes on dates, message rows
are written with bulk_create, and due rows are claimed through the partial "pending and due" index in batches.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone

from notifications import conf
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from notifications.services.schedule import messages_cancel, messages_schedule
from notifications.services.sending import SendResult, messages_claim, messages_release
from outcomes import services as outcomes_services
from outcomes.models import FollowUp, FollowUpStatus
from registry.models import Clinic
from safety.models import Flag

logger = logging.getLogger(__name__)

MAX_BATCHES_PER_SWEEP = 100  # 20,000 messages a minute at the default batch size; the rest wait a minute

Dispatch = Callable[[list[int], str], SendResult | None]


@dataclass
class SweepReport:
    opened: int = 0
    invitations: int = 0
    reminders: int = 0
    missed: int = 0
    cancelled: int = 0
    claimed: int = 0
    batches: int = 0
    enqueue_failed: int = 0
    send: SendResult = field(default_factory=SendResult)

    def summary(self) -> str:
        return (
            f"opened {self.opened}, invited {self.invitations}, reminders queued {self.reminders}, "
            f"closed as missed {self.missed}, claimed {self.claimed} in {self.batches} batches, "
            f"sent {self.send.sent}, failed {self.send.failed}, retrying {self.send.retrying}, "
            f"not sent {self.send.cancelled}, moved {self.send.rescheduled}, not queued {self.enqueue_failed}"
        )


def enqueue_batch(ids: list[int], claim: str) -> None:
    from notifications.tasks import send_batch

    # A short publish retry; if the broker stays down the rows are released and the next sweep tries again.
    send_batch.apply_async(
        args=(ids, claim),
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    )


def followups_sweep(now: dt.datetime | None = None, *, dispatch: Dispatch | None = None) -> SweepReport:
    """Open due follow-ups and queue their emails, close overdue ones as missed, then hand due emails to workers
    in batches (or to `dispatch`, e.g. inline sending for the management command)."""
    now = now or timezone.now()
    report = SweepReport()
    opened = outcomes_services.follow_ups_open_due()
    report.opened = len(opened)
    scheduled = messages_schedule(follow_up_ids=opened, now=now)
    report.invitations, report.reminders = scheduled.invitations, scheduled.reminders
    missed = outcomes_services.follow_ups_close_overdue()
    report.missed = len(missed)
    report.cancelled = messages_cancel(follow_up_ids=missed, reason="Questionnaire window closed unanswered")

    batch_size = conf.get().batch_size
    for _ in range(MAX_BATCHES_PER_SWEEP):
        ids, claim = messages_claim(now=now, limit=batch_size)
        if not ids:
            break
        report.claimed += len(ids)
        report.batches += 1
        if dispatch is None:
            try:
                enqueue_batch(ids, claim)
            except Exception:  # any broker failure: keep the rows, the next sweep retries
                logger.exception("Could not queue a send batch of %s messages; released for the next sweep", len(ids))
                messages_release(claim=claim)
                report.enqueue_failed += len(ids)
                break
        else:
            result = dispatch(ids, claim)
            if result is not None:
                report.send.add(result)
        if len(ids) < batch_size:
            break
    return report


# --- the clinic's daily digest ----------------------------------------------------------------------------------


def _non_urgent_flag_counts(since: dt.datetime) -> dict[int, int]:
    # Safety flags only: worsening signals (efficacy) are not "safety flags waiting for review".
    rows = Flag.objects.safety().filter(urgent=False, raised_at__gte=since).values("clinic_id").annotate(n=Count("id"))
    return {row["clinic_id"]: row["n"] for row in rows}


def digests_queue(now: dt.datetime | None = None) -> int:
    """One digest row per clinic per clinic-local day, from the digest hour. Counts only, never patients.
    A day with nothing to report leaves a cancelled row, so the clinic is not re-examined every hour."""
    from notifications.selectors import chase_base

    now = now or timezone.now()
    hour = conf.get().digest_hour
    since = now - dt.timedelta(days=1)
    due: dict[int, tuple[str, Clinic]] = {}
    for clinic in Clinic.objects.only("id", "time_zone", "name"):
        local = now.astimezone(clinic.tzinfo)
        if local.hour >= hour:
            due[clinic.pk] = (f"digest:{clinic.pk}:{local.date().isoformat()}", clinic)
    if not due:
        return 0
    existing = set(
        OutboundMessage.objects.filter(dedupe_key__in=[key for key, _ in due.values()]).values_list(
            "dedupe_key", flat=True
        )
    )
    todo = {pk: value for pk, value in due.items() if value[0] not in existing}
    if not todo:
        return 0
    missed = dict(
        FollowUp.objects.filter(clinic_id__in=todo, status=FollowUpStatus.MISSED, status_changed_at__gte=since)
        .values_list("clinic_id")
        .annotate(n=Count("id"))
    )
    to_chase = dict(chase_base(list(todo)).order_by().values_list("clinic_id").annotate(n=Count("id")))
    flags = _non_urgent_flag_counts(since)
    rows = []
    for clinic_id, (key, _clinic) in todo.items():
        counts = {
            "day": key.rsplit(":", 1)[1],
            "missed": missed.get(clinic_id, 0),
            "to_chase": to_chase.get(clinic_id, 0),
            "flags": flags.get(clinic_id, 0),
        }
        quiet = not (counts["missed"] or counts["to_chase"] or counts["flags"])
        rows.append(
            OutboundMessage(
                kind=MessageKind.MISSED_DIGEST,
                clinic_id=clinic_id,
                dedupe_key=key,
                scheduled_for=now,
                context=counts,
                status=MessageStatus.CANCELLED if quiet else MessageStatus.PENDING,
                cancelled_reason="Nothing to report" if quiet else "",
            )
        )
    OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return sum(1 for row in rows if row.status == MessageStatus.PENDING)

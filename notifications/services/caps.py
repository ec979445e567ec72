"""A clinic's daily limits (Clinic.daily_email_cap, Clinic.daily_text_cap): at most so many patient questionnaire
messages on a channel in one clinic-local day. Applied when the sweep claims due rows, so the rows it does not
claim are never handed to a worker.

- Counted in SQL, per clinic and channel: rows sent since the clinic's midnight, plus rows being sent now (claimed
  by a worker, not yet recorded), so a row in flight counts once whichever day its record lands.
- Race-safe: the count and the claim happen in one transaction holding a transaction-level advisory lock per
  (clinic, channel), taken in a fixed order (no deadlock between two sweeps). A second sweep waits for the first
  to commit its claim, then counts it.
- A row over the limit is not cancelled: it moves to the next day's sending window and says why (held_reason,
  "Queued: daily limit reached" on the patient's page, counted on the ops page). Held rows keep their order: the
  oldest due goes first the next day.
- A patient's rows due together (both knees: one email, one text) are let through or held together.
- Never held: urgent safety emails to staff (URGENT_STAFF_KINDS), the patient's safety advice, digests and other
  staff notices. Only PATIENT_KINDS count and are held.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q

from notifications.models import PATIENT_KINDS, Channel, MessageStatus, OutboundMessage
from notifications.services.schedule import next_sending_time

HELD_REASON = "Daily limit reached"
# pg_advisory_xact_lock(key1, key2): key1 names the lock's purpose and channel, key2 is the clinic id.
_LOCK_KEYS = {Channel.EMAIL: 1_700_001, Channel.SMS: 1_700_002}


@dataclass(frozen=True)
class Candidate:
    """A due row the sweep is about to claim, with what the cap needs to know about it."""

    id: int
    status: str
    clinic_id: int
    channel: str
    kind: str
    patient_id: int | None
    scheduled_for: dt.datetime
    email_cap: int | None
    text_cap: int | None
    time_zone: str

    @property
    def cap(self) -> int | None:
        return self.text_cap if self.channel == Channel.SMS else self.email_cap

    @property
    def counted(self) -> bool:
        """A new claim of a patient message on a capped channel (a row whose lease ran out was counted when it was
        first claimed: it is still "being sent")."""
        return self.status == MessageStatus.PENDING and self.kind in PATIENT_KINDS and self.cap is not None


CANDIDATE_FIELDS = (
    "id",
    "status",
    "clinic_id",
    "channel",
    "kind",
    "patient_id",
    "scheduled_for",
    "clinic__daily_email_cap",
    "clinic__daily_text_cap",
    "clinic__time_zone",
)


def _day_start(now: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    local = now.astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)


def _lock(keys: list[tuple[int, str]]) -> None:
    """Serialise counting-and-claiming per (clinic, channel) until the transaction ends."""
    if connection.vendor != "postgresql":
        return  # SQLite: the sweep's transaction already holds the database's one write lock (IMMEDIATE mode)
    with connection.cursor() as cursor:
        for clinic_id, channel in sorted(keys):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_KEYS[channel], clinic_id])


def _used_today(keys: dict[tuple[int, str], zoneinfo.ZoneInfo], now: dt.datetime) -> dict[tuple[int, str], int]:
    """Patient messages of each (clinic, channel) sent since the clinic's midnight or being sent: one query."""
    counted = Q()
    for (clinic_id, channel), tz in keys.items():
        counted |= Q(clinic_id=clinic_id, channel=channel) & (
            Q(status=MessageStatus.SENT, sent_at__gte=_day_start(now, tz)) | Q(status=MessageStatus.SENDING)
        )
    rows = (
        OutboundMessage.objects.filter(counted, kind__in=list(PATIENT_KINDS))
        .order_by()
        .values_list("clinic_id", "channel")
        .annotate(n=Count("id"))
    )
    return {(clinic_id, channel): n for clinic_id, channel, n in rows}


def held_until(scheduled_for: dt.datetime, *, tz: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The next day's sending window, plus a minute's spread by when the row was due (the day before maps onto
    the window's first minute), so the rows held keep their order: the oldest due goes first."""
    opens = next_sending_time(tz=tz, not_before=now, day=now.astimezone(tz).date() + dt.timedelta(days=1))
    since = min(max(scheduled_for - (opens - dt.timedelta(days=1)), dt.timedelta(0)), dt.timedelta(days=1))
    return opens + since / 1440


def hold_over_cap(candidates: list[Candidate], now: dt.datetime) -> list[Candidate]:
    """Of the candidates (oldest due first, already locked by the caller's transaction) those over their clinic's
    daily limit: moved to the next day's window and marked held. Returns the held ones; the caller claims the
    rest in the same transaction."""
    counted = [c for c in candidates if c.counted]
    if not counted:
        return []
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    keys = {(c.clinic_id, c.channel): zones.setdefault(c.time_zone, zoneinfo.ZoneInfo(c.time_zone)) for c in counted}
    _lock(list(keys))
    used = _used_today(keys, now)
    left: dict[tuple[int, str], int] = {}
    for c in counted:
        key = (c.clinic_id, c.channel)
        left.setdefault(key, max(c.cap - used.get(key, 0), 0))
    # A patient's rows due together go out together (one email, one text): let through or held as one.
    groups: dict[tuple, list[Candidate]] = {}
    for c in counted:
        groups.setdefault((c.clinic_id, c.channel, c.patient_id, c.kind, c.scheduled_for), []).append(c)
    held: list[Candidate] = []
    for (clinic_id, channel, *_), rows in groups.items():
        key = (clinic_id, channel)
        if len(rows) <= left[key]:
            left[key] -= len(rows)
        else:
            left[key] = 0  # strictly in order: nothing due later overtakes a held row today
            held.extend(rows)
    if held:
        updates = [
            OutboundMessage(
                pk=c.id,
                scheduled_for=held_until(c.scheduled_for, tz=keys[(c.clinic_id, c.channel)], now=now),
                held_reason=HELD_REASON,
                updated_at=now,
            )
            for c in held
        ]
        OutboundMessage.objects.bulk_update(updates, ["scheduled_for", "held_reason", "updated_at"])
    return held

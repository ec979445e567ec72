"""When each patient email and text should go: invitation and reminders as outbox rows, moved and cancelled with
their follow-up.

Texts: email goes first; a patient who agreed to texts also gets text reminders on the days of the reminder
strategy in force for them (outcomes.reminders: their comparison arm's, else the clinic's default, else
SMS_REMINDER_DAYS, default days 7 and 12) while they have not answered (a completed follow-up cancels every
channel's rows), and a patient who may be texted but not emailed gets the invitation by text too.

Everything here works in bulk (values_list in, COPY or bulk_create out): no query per follow-up."""

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from notifications import conf
from notifications.models import PATIENT_KINDS, Channel, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import FollowUp, FollowUpStatus
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from outcomes.reminders import strategy_for, text_days_by_strategy, with_strategy_id

CHUNK = 500  # ids per IN (...) clause: well under SQLite's variable limit, cheap for PostgreSQL
REMINDER_SLOTS = (MessageKind.REMINDER_1, MessageKind.REMINDER_2)


def chunked(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def dedupe_key(follow_up_id: int, kind: str, channel: str = Channel.EMAIL) -> str:
    # Emails keep the key they always had; a text of the same kind is a row of its own.
    return f"{follow_up_id}:{kind}" if channel == Channel.EMAIL else f"{follow_up_id}:{kind}:{channel}"


def in_sending_hours(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> bool:
    settings = conf.get()
    local = moment.astimezone(tz).time()
    return local >= settings.sending_start and (settings.sending_end is None or local < settings.sending_end)


def next_sending_time(*, tz: zoneinfo.ZoneInfo, not_before: dt.datetime, day: dt.date | None = None) -> dt.datetime:
    """The earliest moment at or after `not_before` (and not before `day`, clinic time) inside sending hours."""
    settings = conf.get()
    local = not_before.astimezone(tz)
    if day is not None and day > local.date():
        local = dt.datetime.combine(day, settings.sending_start, tzinfo=tz)
    start = dt.datetime.combine(local.date(), settings.sending_start, tzinfo=tz)
    if local < start:
        return start.astimezone(dt.UTC)
    if settings.sending_end is None or local.time() < settings.sending_end:
        return local.astimezone(dt.UTC)
    tomorrow = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, settings.sending_start, tzinfo=tz).astimezone(dt.UTC)


def planned_day(
    kind: str,
    *,
    opens_on: dt.date,
    closes_on: dt.date,
    safety_check: bool = False,
    channel: str = Channel.EMAIL,
    sms_days: tuple[int, ...] | None = None,
) -> dt.date | None:
    """The clinic-local day a patient email of this kind belongs on, by the current settings. A short safety check
    (a window of a few days) gets its invitation and at most one reminder, SAFETY_CHECK_REMINDER_DAYS later.
    Texts: the invitation, and reminders `sms_days` after opening (the patient's reminder strategy; None:
    SMS_REMINDER_DAYS), none for a short safety check."""
    settings = conf.get()
    if kind == MessageKind.INVITATION:
        return opens_on
    if channel == Channel.SMS:
        if safety_check or kind not in REMINDER_SLOTS:
            return None
        slot = REMINDER_SLOTS.index(kind)
        days = settings.sms_reminder_days if sms_days is None else sms_days
        return opens_on + dt.timedelta(days=days[slot]) if slot < len(days) else None
    if safety_check:
        days = settings.safety_check_reminder_days
        return opens_on + dt.timedelta(days=days) if kind == MessageKind.REMINDER_1 and days else None
    if kind == MessageKind.FINAL_REMINDER:
        days = settings.final_reminder_days_before_close
        return closes_on - dt.timedelta(days=days) if days else None
    slot = REMINDER_SLOTS.index(kind)
    return opens_on + dt.timedelta(days=settings.reminder_days[slot]) if slot < len(settings.reminder_days) else None


def message_plan(
    *, opens_on: dt.date, closes_on: dt.date, today: dt.date, safety_check: bool = False
) -> list[tuple[str, dt.date]]:
    """(kind, day) of every patient email still to come for a window, invitation first.

    The invitation goes as soon as the window is open, unless it closes today. Reminders only if still in the
    future and inside the window; a reminder on or after the final one's day is dropped (the final one is the
    last word).
    """
    if today >= closes_on:
        # Less than a day left to answer (a baseline recorded on its last day): a link that dies tonight is not
        # worth an email. The follow-up stays open for the clinic to enter answers.
        return []
    invite_on = max(opens_on, today)
    plan = [(MessageKind.INVITATION, invite_on)]
    final_on = planned_day(
        MessageKind.FINAL_REMINDER, opens_on=opens_on, closes_on=closes_on, safety_check=safety_check
    )
    for kind in REMINDER_SLOTS:
        day = planned_day(kind, opens_on=opens_on, closes_on=closes_on, safety_check=safety_check)
        if day is None or day <= invite_on or day > closes_on or (final_on and day >= final_on):
            continue
        plan.append((kind, day))
    if final_on and invite_on < final_on <= closes_on:
        plan.append((MessageKind.FINAL_REMINDER, final_on))
    return plan


def text_plan(
    *,
    opens_on: dt.date,
    closes_on: dt.date,
    today: dt.date,
    safety_check: bool = False,
    invitation: bool,
    sms_days: tuple[int, ...] | None = None,
) -> list[tuple[str, dt.date]]:
    """(kind, day) of every text still to come for a window: the invitation only if `invitation` (the patient
    cannot be emailed), then the text reminders (on `sms_days`, the patient's strategy) still in the future and
    inside the window."""
    if today >= closes_on:
        return []
    invite_on = max(opens_on, today)
    plan = [(MessageKind.INVITATION, invite_on)] if invitation else []
    for kind in REMINDER_SLOTS:
        day = planned_day(
            kind,
            opens_on=opens_on,
            closes_on=closes_on,
            safety_check=safety_check,
            channel=Channel.SMS,
            sms_days=sms_days,
        )
        if day is not None and invite_on < day <= closes_on:
            plan.append((kind, day))
    return plan


def _may(email, consent, opted_out, withdrawn, invalid=None) -> bool:
    # Patient.may_email / may_text from values, without loading patients one by one.
    return bool(email and consent and opted_out is None and withdrawn is None and invalid is None)


@dataclass
class Scheduled:
    invitations: int = 0
    reminders: int = 0


@dataclass(slots=True)
class PlannedMessage:
    """An outbox row about to be written: what the plan decides (a model instance per row cost a quarter of the
    sweep at 60,000 rows)."""

    kind: str
    channel: str
    clinic_id: int
    follow_up_id: int
    patient_id: int
    dedupe_key: str
    scheduled_for: dt.datetime

    def as_row(self) -> tuple:
        return (
            self.kind,
            self.channel,
            self.clinic_id,
            self.follow_up_id,
            self.patient_id,
            self.dedupe_key,
            self.scheduled_for,
        )


def _rows_for(follow_up_ids: list[int], now: dt.datetime) -> list[PlannedMessage]:
    rows = []
    # The text reminder days differ per patient (comparison arm) and clinic (default strategy): the strategy's id
    # comes with each row from the same query, and its days from one query for the whole chunk.
    follow_ups = list(
        with_strategy_id(FollowUp.objects.filter(id__in=follow_up_ids, status=FollowUpStatus.OPEN)).values_list(
            "id",
            "clinic_id",
            "patient_id",
            "opens_on",
            "closes_on",
            "clinic__time_zone",
            "timepoint",
            "patient__email",
            "patient__consent_email_contact",
            "patient__email_opted_out_at",
            "patient__email_invalid_at",
            "patient__phone",
            "patient__consent_sms_contact",
            "patient__sms_opted_out_at",
            "patient__phone_invalid_at",
            "patient__consent_withdrawn_at",
            "reminder_strategy_id",
        )
    )
    text_days = text_days_by_strategy(row[-1] for row in follow_ups)
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    for (
        follow_up_id,
        clinic_id,
        patient_id,
        opens_on,
        closes_on,
        zone,
        timepoint,
        email,
        email_consent,
        email_opted_out,
        email_invalid,
        phone,
        sms_consent,
        sms_opted_out,
        phone_invalid,
        withdrawn,
        strategy_id,
    ) in follow_ups:
        tz = zones.setdefault(zone, zoneinfo.ZoneInfo(zone))
        today = now.astimezone(tz).date()
        safety_check = timepoint in SAFETY_CHECK_TIMEPOINTS
        window = {"opens_on": opens_on, "closes_on": closes_on, "today": today, "safety_check": safety_check}
        # Email rows are written whatever the patient's email consent today (the send-time check decides, as it
        # always has); text rows only for a patient who may be texted now.
        plans = [(Channel.EMAIL, message_plan(**window))]
        if _may(phone, sms_consent, sms_opted_out, withdrawn, phone_invalid):
            may_email = _may(email, email_consent, email_opted_out, withdrawn, email_invalid)
            sms_days = text_days.get(strategy_id)  # None: no strategy, the global setting
            plans.append((Channel.SMS, text_plan(**window, invitation=not may_email, sms_days=sms_days)))
        for channel, plan in plans:
            for kind, day in plan:
                rows.append(
                    PlannedMessage(
                        kind=kind,
                        channel=channel,
                        clinic_id=clinic_id,
                        follow_up_id=follow_up_id,
                        patient_id=patient_id,
                        dedupe_key=dedupe_key(follow_up_id, kind, channel),
                        scheduled_for=next_sending_time(tz=tz, not_before=now, day=day),
                    )
                )
    return rows


def _gather(rows: list[PlannedMessage]) -> list[PlannedMessage]:
    """A patient's emails (or texts) of one kind due within NOTIFICATIONS_GATHER_MINUTES of each other are given
    the same time, so one sweep claims them together and sending.py sends them as one email or one text (both
    knees treated at one visit: one invitation for both questionnaires, not two identical ones)."""
    window = conf.get().gather
    if not window or not rows:
        return rows
    times = [r.scheduled_for for r in rows]
    anchors: dict[tuple[int, str, str], list[dt.datetime]] = {}
    pending = OutboundMessage.objects.filter(
        status=MessageStatus.PENDING,
        patient_id__in={r.patient_id for r in rows},
        kind__in={r.kind for r in rows},
        scheduled_for__range=(min(times) - window, max(times) + window),
    ).values_list("patient_id", "kind", "channel", "scheduled_for")
    for patient_id, kind, channel, when in pending:
        anchors.setdefault((patient_id, kind, channel), []).append(when)
    for row in sorted(rows, key=lambda r: r.scheduled_for):
        known = anchors.setdefault((row.patient_id, row.kind, row.channel), [])
        near = [when for when in known if abs(when - row.scheduled_for) <= window]
        if near:
            row.scheduled_for = min(near, key=lambda when: abs(when - row.scheduled_for))
        else:
            known.append(row.scheduled_for)
    return rows


# The columns a planned row sets; every other column takes the model's default (_insert_rows).
PLANNED = ("kind", "channel", "clinic_id", "follow_up_id", "patient_id", "dedupe_key", "scheduled_for")


def _insert_rows(rows: list[PlannedMessage]) -> list[str]:
    """Write planned rows, skipping any whose dedupe key a concurrent sweep wrote a moment ago: the kinds of the
    rows written. On PostgreSQL one COPY into a temporary table and one INSERT ... SELECT ... ON
    CONFLICT DO NOTHING: at 10,000 follow-ups due on two channels (60,000 rows) the ORM's per-field preparation of
    a bulk_create was most of the sweep's time (`make bench`)."""
    if connection.vendor != "postgresql":
        # ignore_conflicts: a concurrent sweep may have written the same keys a moment ago; the key wins.
        models = [OutboundMessage(**dict(zip(PLANNED, r.as_row(), strict=True))) for r in rows]
        OutboundMessage.objects.bulk_create(models, batch_size=CHUNK, ignore_conflicts=True)
        return [r.kind for r in rows]
    meta = OutboundMessage._meta
    template = OutboundMessage()
    defaults = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in PLANNED]
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in defaults]
    planned = ", ".join(meta.get_field(name.removesuffix("_id")).column for name in PLANNED)
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS planned_message (kind text, channel text, clinic_id bigint, "
            "follow_up_id bigint, patient_id bigint, dedupe_key text, scheduled_for timestamptz) "
            "ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY planned_message ({planned}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r.as_row())
        # Names and types from the model's own fields; every value is a parameter.
        columns = ", ".join(qn(f.column) for f in defaults)
        casts = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in defaults)
        table = qn(meta.db_table)
        select = f"SELECT {planned}, {casts} FROM planned_message"  # noqa: S608 - own names
        cursor.execute(
            f"INSERT INTO {table} ({planned}, {columns}) {select} ON CONFLICT (dedupe_key) DO NOTHING RETURNING kind",
            values,
        )
        kinds = [kind for (kind,) in cursor.fetchall()]
        cursor.execute("TRUNCATE planned_message")  # a caller's outer transaction may write more rows
    return kinds


def messages_schedule(*, follow_up_ids: Iterable[int], now: dt.datetime | None = None) -> Scheduled:
    """Write the invitation and reminder rows of open follow-ups, skipping any already written (dedupe key)."""
    now = now or timezone.now()
    result = Scheduled()
    for chunk in chunked(follow_up_ids):
        rows = _rows_for(chunk, now)
        if not rows:
            continue
        existing = set(
            OutboundMessage.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list(
                "dedupe_key", flat=True
            )
        )
        kinds = _insert_rows(_gather([r for r in rows if r.dedupe_key not in existing]))
        result.invitations += sum(1 for kind in kinds if kind == MessageKind.INVITATION)
        result.reminders += sum(1 for kind in kinds if kind != MessageKind.INVITATION)
    return result


def messages_cancel(
    *,
    reason: str,
    follow_up_ids: Iterable[int] | None = None,
    patient_id: int | None = None,
    kinds: Iterable[str] = PATIENT_KINDS,
    channel: str | None = None,
) -> int:
    """Cancel pending patient emails and texts of these follow-ups (or of a patient), or of one `channel` only.
    Rows already claimed by a worker are caught by the send-time check instead."""
    base = OutboundMessage.objects.filter(status=MessageStatus.PENDING, kind__in=list(kinds))
    if channel is not None:
        base = base.filter(channel=channel)
    fields = {"status": MessageStatus.CANCELLED, "cancelled_reason": reason[:200], "updated_at": timezone.now()}
    if patient_id is not None:
        return base.filter(patient_id=patient_id).update(**fields)
    return sum(base.filter(follow_up_id__in=chunk).update(**fields) for chunk in chunked(follow_up_ids or []))


def messages_reschedule(*, follow_up: FollowUp, now: dt.datetime | None = None) -> None:
    """The follow-up's window moved: pending emails move with it, ones that no longer fit are cancelled, and an
    open follow-up gets any email it is now owed (never one already sent: the dedupe key)."""
    now = now or timezone.now()
    if follow_up.status not in (FollowUpStatus.SCHEDULED, FollowUpStatus.OPEN):
        messages_cancel(follow_up_ids=[follow_up.pk], reason=f"Follow-up {follow_up.get_status_display().lower()}")
        return
    tz = follow_up.clinic.tzinfo
    today = now.astimezone(tz).date()
    window = {
        "opens_on": follow_up.opens_on,
        "closes_on": follow_up.closes_on,
        "today": today,
        "safety_check": follow_up.is_safety_check,
    }
    sms_days = strategy_for(follow_up.patient).text_reminder_days
    plans = {
        Channel.EMAIL: dict(message_plan(**window)),
        Channel.SMS: dict(text_plan(**window, invitation=True, sms_days=sms_days)),
    }
    pending = OutboundMessage.objects.filter(
        follow_up=follow_up, status=MessageStatus.PENDING, kind__in=list(PATIENT_KINDS)
    )
    for message in pending:
        plan = plans.get(message.channel, {})
        if message.kind in plan:
            message.scheduled_for = next_sending_time(tz=tz, not_before=now, day=plan[message.kind])
            message.save(update_fields=["scheduled_for", "updated_at"])
        else:
            message.status = MessageStatus.CANCELLED
            message.cancelled_reason = "Injection date changed: no longer due"
            message.save(update_fields=["status", "cancelled_reason", "updated_at"])
    if follow_up.status == FollowUpStatus.OPEN:
        messages_schedule(follow_up_ids=[follow_up.pk], now=now)

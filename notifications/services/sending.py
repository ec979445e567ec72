"""Claiming due outbox rows and delivering them, each exactly once, through dead workers and database blips.

Claims and leases. The sweep moves due rows from pending to sending under its own claim token with a lease
(NOTIFICATIONS_CLAIM_LEASE_SECONDS, `lease_expires_at`), locking with `select_for_update(skip_locked=True)`
where the database has row locks. The task that receives the ids re-claims them under a token of its own run
(`task:<task id>:<retry number>:<nonce>`) with a conditional update and works only on the rows that update
returned: a duplicate delivery of the same task, or two workers running it at once, finds nothing left to take.
A retry of the task (same task id, higher retry number) also takes back the rows an earlier run of it still held,
except any that run had handed to the mail server. While it works, the task renews its batch's lease with one
UPDATE every quarter of the lease, so a live worker's batch is never claimed again; a dead worker stops renewing,
or a lost task never starts, and within one lease the next sweep (every minute) claims the rows again.

Just before an email goes to the mail server, one conditional UPDATE checks the row is still this claim's and
stamps it `handed_over_at` (with its stable Message-ID, which every retry and resend reuses). Only a claim holder
can stamp a row, and a stamped row is never taken by a retry, only by the sweep once its lease has run out.

Database blips. After the mail server accepted an email its outcome (row and DeliveryAttempt, one transaction) is
written on a fresh connection, retried for about 30 seconds (RECORD_RETRY_DELAYS), and "sent" wins over any
claim. When the batch fails anyway, the rows not yet handed over are released on a fresh connection, so the
task's retry or the next sweep sends them at once.

The window no database can close: the mail server has accepted the email (its reply to DATA has arrived) and the
process dies, or the database stays unreachable for longer than the record retries, before the "sent" commit. In
normal running that is the round trip of one UPDATE and one INSERT, a few milliseconds per email; in a database
outage it is at most those ~30 seconds of retries, after which the ids are logged at ERROR. Such a row stays
"sending" with `handed_over_at` set; when its lease runs out the sweep sends it once more, with the same
Message-ID, so the copy is recognisable (and often merged by the recipient's mail system). SMTP offers no
idempotency key to do better.

Texts (channel "sms") go through the same claim, lease, hand-over stamp, record and backoff, one row per text, by
the SMS_BACKEND transport (notifications/sms.py). The reference given to the provider is stored in
`email_message_id` before the hand-over and reused by a resend. A provider's permanent refusal of the number (not
a mobile, opted out by STOP) also marks the patient's number (registry, with history) and cancels their other
texts.

The provider's own id for what it took (Notify's notification id, Twilio's SID, an email service's message id
through django-anymail; none through plain SMTP) is kept in `provider_message_id`, by which its later delivery
receipts find the row (notifications.services.receipts).
"""

import datetime as dt
import hashlib
import logging
import re
import secrets
import smtplib
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core import mail
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import conf, emails, sms, texts
from notifications.models import (
    URGENT_STAFF_KINDS,
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    UnsubscribeToken,
    hash_unsubscribe_token,
)
from notifications.services import caps
from notifications.services.advice import safety_advice_reason_not_to_send
from notifications.services.schedule import in_sending_hours, messages_cancel, next_sending_time, planned_day
from outcomes.models import FollowUpStatus, QuestionnaireLink
from outcomes.models.questionnaire import LinkChannel, hash_token
from outcomes.reminders import text_days_by_strategy, with_strategy_id
from registry import services as registry_services
from registry.choices import WRITING_ROLES
from registry.models import Membership

logger = logging.getLogger(__name__)

MAX_ERROR = 1000


class TransportError(Exception):
    """A failed hand-over to the mail server. Permanent errors (a refused or invalid address) fail the message
    at once; temporary ones (a dropped connection, a timeout, a 4xx reply) are retried with backoff."""

    def __init__(self, message: str, permanent: bool = False, problem: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        # For a text: "invalid_number" or "opted_out" when no text should be tried to this number again.
        self.problem = problem


def classify(exc: BaseException) -> TransportError:
    """What a mail backend's exception means for the message."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, sms.SmsError):
        return TransportError(exc.message, permanent=exc.permanent, problem=exc.problem)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        return TransportError(f"Recipient refused ({detail})", permanent=bool(codes) and min(codes) >= 500)
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPConnectError):
        # Our configuration or their server, not this recipient: keep the message and retry.
        return TransportError(f"Mail server: {exc}", permanent=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"Mail server replied {exc.smtp_code}: {exc.smtp_error!r}"
        return TransportError(reply, permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected | socket.timeout | TimeoutError | ConnectionError):
        return TransportError(f"Mail server unreachable: {exc.__class__.__name__}: {exc}", permanent=False)
    if isinstance(exc, ValueError):
        # Django's sanitize_address and the email package raise ValueError on an unusable address.
        return TransportError(f"Invalid address: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return TransportError(f"{exc.__class__.__name__}: {exc}", permanent=False)
    return TransportError(f"Unexpected error: {exc.__class__.__name__}: {exc}", permanent=False)


def backoff(attempts: int) -> dt.timedelta:
    """NOTIFICATIONS_BACKOFF_BASE_SECONDS (1 minute) after the first failed attempt, doubling after each one, at
    most NOTIFICATIONS_BACKOFF_MAX_SECONDS (4 hours)."""
    settings_ = conf.get()
    return min(settings_.backoff_base * 2 ** max(attempts - 1, 0), settings_.backoff_max)


_ADDRESS = re.compile(r"[^\s<>(),;:'\"]+@[^\s<>(),;:'\"]+")


def _reason(error: "TransportError") -> str:
    # For log lines: what went wrong, without the patient's address.
    return _ADDRESS.sub("<address>", error.message)[:120]


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    cancelled: int = 0
    rescheduled: int = 0
    # Rows this batch lost to a newer claim before handing them over (their lease ran out): the claimant sends them.
    lost: int = 0
    # Rows an earlier worker had handed to the mail server without a record: sent again, same Message-ID.
    resent: int = 0
    released: int = 0
    sent_ids: list[int] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)

    def add(self, other: "SendResult") -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retrying += other.retrying
        self.cancelled += other.cancelled
        self.rescheduled += other.rescheduled
        self.lost += other.lost
        self.resent += other.resent
        self.released += other.released
        self.sent_ids.extend(other.sent_ids)
        self.reasons.update(other.reasons)

    @property
    def troubled(self) -> bool:
        return bool(self.failed or self.retrying or self.lost or self.resent or self.released)

    def summary(self) -> str:
        text = (
            f"sent {self.sent}, failed {self.failed}, retrying {self.retrying}, not sent {self.cancelled}, "
            f"moved {self.rescheduled}"
        )
        for label, count in (("taken by a newer claim", self.lost), ("resent", self.resent)):
            if count:
                text += f", {label} {count}"
        if self.released:
            text += f", released untried {self.released}"
        if self.reasons:
            text += "; reasons: " + "; ".join(f"{n} x {reason}" for reason, n in self.reasons.most_common(5))
        return text


# --- a fresh connection after a database blip ----------------------------------------------------------------

# Seconds before each new try of a write that must not be lost: about 30 s in all, inside the shortest lease (60 s),
# so a sweep cannot take the row back while we are still trying to record it.
RECORD_RETRY_DELAYS = (0, 0.5, 1, 2, 4, 8, 15)
_CONNECTION_ERRORS = (OperationalError, InterfaceError)


def _on_fresh_connection(write: Callable[[], int], *, what: str, message_ids: list[int]) -> int:
    """Run `write` in a transaction; if the connection died, close it and try again on a new one, a few times
    with a short backoff. Inside an outer transaction (tests, inline callers) there is nothing to retry on."""
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            with transaction.atomic():
                return write()
        except _CONNECTION_ERRORS:
            if connection.in_atomic_block:
                raise
            if delay is None:
                logger.error(
                    "Could not %s%s: the database stayed unreachable. They stay claimed; when the lease runs out "
                    "the sweep takes them again",
                    what,
                    f" for messages {message_ids}" if message_ids else "",
                )
                raise
            connection.close()  # a dead connection is not reused; the next query opens a new one
            time.sleep(delay)
    raise AssertionError("unreachable")


# --- claiming -------------------------------------------------------------------------------------------------


def _claimable(now: dt.datetime) -> Q:
    return Q(status=MessageStatus.PENDING, scheduled_for__lte=now) | Q(
        status=MessageStatus.SENDING, lease_expires_at__lt=now
    )


def messages_claim(*, now: dt.datetime | None = None, limit: int | None = None) -> tuple[list[int], str]:
    """Claim up to `limit` due rows (oldest first) for one batch, and rows whose lease ran out: (ids, claim).
    Rows over their clinic's daily limit are held to the next day instead (notifications.services.caps), and the
    batch is filled up with the next due rows: fewer than `limit` means nothing more is due."""
    now = now or timezone.now()
    limit = limit or conf.get().batch_size
    claim = f"sweep:{uuid.uuid4().hex}"
    due = _claimable(now)
    ids: list[int] = []
    expired: list[int] = []
    taken = 0
    with transaction.atomic():
        while len(ids) < limit:
            wanted = limit - len(ids)
            candidates = OutboundMessage.objects.filter(due).order_by("scheduled_for", "id")
            if connection.features.has_select_for_update_skip_locked:
                # Two sweeps at once each take different rows instead of waiting on each other (the clinic's row,
                # joined for its daily limits, is not locked).
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            rows = [caps.Candidate(*values) for values in candidates.values_list(*caps.CANDIDATE_FIELDS)[:wanted]]
            if not rows:
                break
            # Counted and applied under a per-clinic lock in this transaction; the rows claimed below count for
            # the next round's count (same transaction).
            held = {row.id for row in caps.hold_over_cap(rows, now)}
            chosen = [row.id for row in rows if row.id not in held]
            expired += [row.id for row in rows if row.status == MessageStatus.SENDING]
            if chosen:
                # Without row locks (SQLite) this conditional update is the claim; its count says whether another
                # sweep took some of them first.
                taken += OutboundMessage.objects.filter(due, id__in=chosen).update(
                    status=MessageStatus.SENDING,
                    claimed_by=claim,
                    claimed_at=now,
                    lease_expires_at=now + conf.get().claim_lease,
                    held_reason="",
                )
                ids += chosen
            if len(rows) < wanted:
                break  # nothing more is due
    if taken != len(ids):
        ids = list(OutboundMessage.objects.filter(claimed_by=claim).values_list("id", flat=True))
    if expired:
        logger.warning(
            "Claimed again %s emails whose lease ran out (their worker died or their task was lost): %s",
            len(expired),
            expired[:50],
        )
    return ids, claim


def messages_release(*, claim: str) -> int:
    """Give rows back to the queue (the broker refused the batch): the next sweep claims them again."""
    return OutboundMessage.objects.filter(claimed_by=claim, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING, claimed_by="", claimed_at=None, lease_expires_at=None
    )


def _run_prefix(task_id: str, retries: int) -> str:
    key = task_id if len(task_id) <= 36 else hashlib.sha256(task_id.encode()).hexdigest()[:36]
    return f"task:{key}:{retries}:"


def _lease_renew(token: str) -> int:
    """One UPDATE for the whole batch: its rows stay this worker's for another lease."""
    lease_until = timezone.now() + conf.get().claim_lease
    return _on_fresh_connection(
        lambda: OutboundMessage.objects.filter(claimed_by=token, status=MessageStatus.SENDING).update(
            lease_expires_at=lease_until
        ),
        what="renew the lease",
        message_ids=[],
    )


def _release_untried(token: str) -> int:
    """Give back the rows this run never handed to the mail server, so they need not wait for the lease."""
    untried = OutboundMessage.objects.filter(
        claimed_by=token, status=MessageStatus.SENDING, handed_over_at__isnull=True
    )
    return _on_fresh_connection(
        lambda: untried.update(status=MessageStatus.PENDING, claimed_by="", claimed_at=None, lease_expires_at=None),
        what="release the untried messages",
        message_ids=[],
    )


# --- sending --------------------------------------------------------------------------------------------------


def messages_send(
    message_ids: list[int],
    *,
    claim: str | None = None,
    task_id: str | None = None,
    retries: int = 0,
    now: dt.datetime | None = None,
) -> SendResult:
    """Deliver the given rows that are still this batch's to deliver: pending and due, held by the sweep's
    `claim`, or (a retry: `retries` > 0 of the same `task_id`) held by an earlier run of this task and not yet
    handed to the mail server. Logs one line for the batch: a WARNING with counts and reasons if anything failed."""
    now = now or timezone.now()
    result = SendResult()
    if not message_ids:
        return result
    lease = conf.get().claim_lease
    prefix = _run_prefix(task_id, retries) if task_id else "task:"
    token = f"{prefix}{secrets.token_hex(6)}"
    takeable = Q(status=MessageStatus.PENDING, scheduled_for__lte=now)
    if claim:
        takeable |= Q(status=MessageStatus.SENDING, claimed_by=claim)
    for earlier in range(retries if task_id else 0):
        takeable |= Q(
            status=MessageStatus.SENDING,
            claimed_by__startswith=_run_prefix(task_id, earlier),
            handed_over_at__isnull=True,
        )
    taken = OutboundMessage.objects.filter(takeable, id__in=list(message_ids)).update(
        status=MessageStatus.SENDING, claimed_by=token, claimed_at=now, lease_expires_at=now + lease
    )
    if not taken:
        return result
    messages = list(
        with_strategy_id(OutboundMessage.objects.filter(claimed_by=token, status=MessageStatus.SENDING))
        .select_related("clinic", "follow_up__plan", "patient", "recipient_user")
        .order_by("id")
    )
    # A text's day is checked against the patient's own reminder strategy (their comparison arm's, the clinic's
    # default or the setting): the strategies' days in one query for the batch.
    text_days = text_days_by_strategy(m.reminder_strategy_id for m in messages if m.is_text)
    for message in messages:
        message.sms_days = text_days.get(message.reminder_strategy_id)
    backend = mail.get_connection(fail_silently=False)
    texter = _Texter()
    renew_at = now + lease / 4
    try:
        for group in _one_email_each(messages):
            if timezone.now() >= renew_at:
                _lease_renew(token)
                renew_at = timezone.now() + lease / 4
            if group[0].is_text:
                result.add(_process_texts(group, token=token, texter=texter))
            elif group[0].is_for_patient:
                result.add(_process_questionnaires(group, token=token, backend=backend))
            else:
                result.add(_process(group[0], token=token, backend=backend))
    except Exception:
        # The database blinked (the task retries): give back the rows not yet handed over, so the retry or the
        # next sweep takes them at once. An email handed over and not recorded stays claimed: it may have gone.
        try:
            result.released = _release_untried(token)
        except DatabaseError:
            logger.exception("Could not release the untried messages; their lease runs out and the sweep takes them")
        logger.warning("Send batch stopped by an error (the task retries): %s", result.summary(), exc_info=True)
        raise
    finally:
        try:
            backend.close()
        except Exception:  # closing a broken connection must not hide what happened before
            logger.warning("Closing the mail connection failed", exc_info=True)
    if result.troubled:
        logger.warning("Send batch: %s", result.summary())
    else:
        logger.info("Send batch: %s", result.summary())
    return result


def _one_email_each(messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
    """The batch's rows grouped by the email or text that carries them: a patient's questionnaire rows of one kind
    and channel go in one email (a patient treated in both knees hears once, with a link per knee) or one text (one
    link, leading from one knee's questionnaire to the other's); every other row alone."""
    groups: dict[tuple, list[OutboundMessage]] = {}
    for message in messages:
        # A short safety check goes in its own email: its words ("2 minutes") are not the questionnaire's.
        key = (
            (message.patient_id, message.kind, message.channel, message.follow_up.is_safety_check)
            if message.is_for_patient
            else ("row", message.pk)  # a staff notice
        )
        groups.setdefault(key, []).append(message)
    return list(groups.values())


def _finish(message: OutboundMessage, token: str, **fields) -> bool:
    """Write the row's outcome if it is still ours (a claim that timed out belongs to the next sweep)."""
    fields.setdefault("updated_at", timezone.now())
    return bool(OutboundMessage.objects.filter(pk=message.pk, claimed_by=token).update(**fields))


def _cancel(message: OutboundMessage, token: str, reason: str) -> SendResult:
    _finish(
        message,
        token,
        status=MessageStatus.CANCELLED,
        cancelled_reason=reason[:200],
        claimed_by="",
        lease_expires_at=None,
        handed_over_at=None,
    )
    return SendResult(cancelled=1)


def _reschedule(message: OutboundMessage, token: str, when: dt.datetime) -> SendResult:
    _finish(
        message,
        token,
        status=MessageStatus.PENDING,
        scheduled_for=when,
        claimed_by="",
        claimed_at=None,
        lease_expires_at=None,
        handed_over_at=None,
    )
    return SendResult(rescheduled=1)


def _patient_reason_not_to_email(patient) -> str:
    if patient.has_withdrawn:
        return "Consent withdrawn"
    if patient.email_opted_out_at:
        return "Patient unsubscribed from email"
    if patient.email_invalid_at:
        return f"Email address bounced: {patient.email_invalid_reason}"
    if not patient.consent_email_contact:
        return "No consent to email contact"
    if not patient.email:
        return "No email address on record"
    return "Email contact not allowed"


def _patient_reason_not_to_text(patient) -> str:
    if patient.has_withdrawn:
        return "Consent withdrawn"
    if patient.sms_opted_out_at:
        return "Patient opted out of text messages"
    if patient.phone_invalid_at:
        return f"Phone number refused: {patient.phone_invalid_reason}"
    if not patient.consent_sms_contact:
        return "No consent to text message contact"
    if not patient.phone:
        return "No phone number on record"
    return "Text message contact not allowed"


def _check_patient_message(message: OutboundMessage, now: dt.datetime):
    """None to send now, else ("cancel", reason) or ("reschedule", when): the send-time safety net (emails and
    texts alike, each by its own channel's consent)."""
    follow_up, patient = message.follow_up, message.patient
    if follow_up.status == FollowUpStatus.COMPLETED:
        return "cancel", "Questionnaire already completed"
    if follow_up.status == FollowUpStatus.CANCELLED:
        return "cancel", f"Follow-up cancelled{': ' + follow_up.cancelled_reason if follow_up.cancelled_reason else ''}"
    if follow_up.status == FollowUpStatus.MISSED:
        return "cancel", "Questionnaire window closed"
    if follow_up.status == FollowUpStatus.NOT_COLLECTED:
        return "cancel", "Baseline not collected: recorded after the injection"
    if message.is_text and not patient.may_text:
        reason = _patient_reason_not_to_text(patient)
        messages_cancel(patient_id=patient.pk, reason=reason, channel=Channel.SMS)  # the rest would fail alike
        return "cancel", reason
    if not message.is_text and not patient.may_email:
        reason = _patient_reason_not_to_email(patient)
        messages_cancel(patient_id=patient.pk, reason=reason, channel=Channel.EMAIL)  # the rest would fail alike
        return "cancel", reason
    tz = message.clinic.tzinfo
    today = now.astimezone(tz).date()
    if today > follow_up.closes_on:
        return "cancel", "Questionnaire window closed"
    day = planned_day(
        message.kind,
        opens_on=follow_up.opens_on,
        closes_on=follow_up.closes_on,
        safety_check=follow_up.is_safety_check,
        channel=message.channel,
        sms_days=getattr(message, "sms_days", None),
    )
    if day is not None and day > today:
        # The injection date moved since this was scheduled: the email moves with the window.
        return "reschedule", next_sending_time(tz=tz, not_before=now, day=day)
    if not in_sending_hours(now, tz):
        return "reschedule", next_sending_time(tz=tz, not_before=now)
    return None


def _staff_addresses(clinic_id: int) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(clinic_id=clinic_id, role__in=WRITING_ROLES, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def _check_safety_advice(message: OutboundMessage, now: dt.datetime) -> str | None:
    """Why the patient's advice email must not go now, or None. Any hour will do (it cannot wait)."""
    patient = message.patient
    if not patient.may_email:
        return _patient_reason_not_to_email(patient)
    return safety_advice_reason_not_to_send(message, now)


def _recipients(message: OutboundMessage) -> list[str] | str:
    """Addresses to send to, or the reason there are none."""
    if message.is_for_patient or message.kind == MessageKind.SAFETY_ADVICE:
        return [message.patient.email]
    if message.kind in URGENT_STAFF_KINDS:
        user = message.recipient_user
        still_staff = (
            user is not None
            and user.is_active
            and Membership.objects.filter(user=user, clinic_id=message.clinic_id, role__in=WRITING_ROLES).exists()
        )
        if not still_staff:
            return "Recipient is no longer clinical staff of the clinic"
        return [user.email] if user.email else "Recipient has no email address"
    if message.kind == MessageKind.LINK_LOCKED and message.clinic.contact_email:
        return [message.clinic.contact_email]
    return _staff_addresses(message.clinic_id) or "The clinic has no staff email address"


def _mint_link(message: OutboundMessage, *, after: str | None = None) -> tuple[str, int]:
    """A fresh link for this row's questionnaire; `after`: the token of the questionnaire before it in one text,
    from which this one's is derived (outcomes.services.link_token_next)."""
    from outcomes.services import link_create, link_token_next

    channel = LinkChannel.SMS if message.is_text else LinkChannel.EMAIL
    token = link_create(follow_up=message.follow_up, channel=channel, token=link_token_next(after) if after else None)
    return token, QuestionnaireLink.objects.values_list("id", flat=True).get(token_hash=hash_token(token))


def _mint_unsubscribe(message: OutboundMessage) -> tuple[str, int]:
    unsubscribe = secrets.token_urlsafe(32)  # 256 bits
    row = UnsubscribeToken.objects.create(
        patient_id=message.patient_id, message=message, token_hash=hash_unsubscribe_token(unsubscribe)
    )
    return unsubscribe, row.pk


def new_message_id(clinic) -> str:
    """The Message-ID header, kept on every row the email carries (OutboundMessage.email_message_id)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "knee-registry.invalid"
    return make_msgid(idstring=f"c{clinic.pk}", domain=domain)


def _stable_message_id(rows: list[OutboundMessage]) -> str:
    """The Message-ID these rows' email went out with before (a resend after a lost record, or a retry after a
    temporary error), else a new one: a second copy of an email is recognisable as the same email."""
    earlier = [row.email_message_id for row in rows if row.email_message_id]
    handed_over = [row.email_message_id for row in rows if row.email_message_id and row.handed_over_at]
    return (handed_over or earlier or [new_message_id(rows[0].clinic)])[0]


def _process_questionnaires(messages: list[OutboundMessage], *, token: str, backend) -> SendResult:
    """One email for a patient's rows of one kind due together. Each row is checked on its own (consent, still
    open, sending hours...): one that fails is cancelled or moved alone and the email lists only the others."""
    now = timezone.now()
    result = SendResult()
    sendable = []
    for message in messages:
        decision = _check_patient_message(message, now)
        if decision is None:
            sendable.append(message)
            continue
        action, value = decision
        result.add(_cancel(message, token, value) if action == "cancel" else _reschedule(message, token, value))
    if not sendable:
        return result
    to = _recipients(sendable[0])
    message_id = _stable_message_id(sendable)
    links: dict[int, int] = {}
    unsubscribe_id = None

    def build(rows: list[OutboundMessage]):
        nonlocal unsubscribe_id
        tokens = []
        for row in rows:
            questionnaire_token, links[row.pk] = _mint_link(row)
            tokens.append(questionnaire_token)
        unsubscribe_token, unsubscribe_id = _mint_unsubscribe(rows[0])
        return emails.build_questionnaires(
            rows, to=to, questionnaire_tokens=tokens, unsubscribe_token=unsubscribe_token, message_id=message_id
        )

    def discard(rows: list[OutboundMessage]) -> None:
        _discard_links([links.pop(row.pk) for row in rows if row.pk in links], None)

    try:
        email = build(sendable)
    except DatabaseError:
        raise  # the batch stops and the task retries; nothing went to the mail server
    except Exception as exc:  # noqa: BLE001 - an unusable email is recorded on its rows, never stops a batch
        result.add(_failed(sendable, token, classify(exc), now, list(links.values()), unsubscribe_id))
        return result
    handed = _hand_over(sendable, token=token, now=now, message_id=message_id)
    result.lost += len(sendable) - len(handed)
    if not handed:
        discard(sendable)
        _discard_links([], unsubscribe_id)
        return result
    if len(handed) < len(sendable):
        # Some rows went to a newer claim while we prepared the email (our lease ran out): write it again
        # without them; the new claimant sends those.
        discard(sendable)
        _discard_links([], unsubscribe_id)
        email = build(handed)
    result.add(
        _send_and_record(
            email,
            handed,
            token=token,
            backend=backend,
            now=now,
            to=to,
            message_id=message_id,
            links=links,
            unsubscribe_id=unsubscribe_id,
        )
    )
    return result


def _process(message: OutboundMessage, *, token: str, backend) -> SendResult:
    """A staff notice or the patient's advice: one row, one email."""
    now = timezone.now()
    if message.kind == MessageKind.SAFETY_ADVICE:
        reason = _check_safety_advice(message, now)
        if reason is not None:
            return _cancel(message, token, reason)
    to = _recipients(message)
    if isinstance(to, str):
        return _cancel(message, token, to)
    message_id = _stable_message_id([message])
    try:
        email = emails.build(message, to=to)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unusable email is recorded on its row, never stops a batch
        return _failed([message], token, classify(exc), now)
    email.extra_headers["Message-ID"] = message_id
    if not _hand_over([message], token=token, now=now, message_id=message_id):
        return SendResult(lost=1)
    return _send_and_record(email, [message], token=token, backend=backend, now=now, to=to, message_id=message_id)


class _Texter:
    """The batch's text message transport, made at its first text: a misconfigured SMS_BACKEND fails those rows
    (retried with backoff, shown on the ops page), never a batch of emails."""

    def __init__(self):
        self._backend: sms.SmsBackend | None = None

    def backend(self) -> sms.SmsBackend:
        if self._backend is None:
            self._backend = sms.get_backend()
        return self._backend


def _process_texts(messages: list[OutboundMessage], *, token: str, texter: _Texter) -> SendResult:
    """One text for a patient's rows of one kind due together (both knees: one text, one link that leads from one
    questionnaire to the next), each row checked on its own like an email's; handed to the provider once, stamped
    first, and recorded sent on every row it carried."""
    now = timezone.now()
    result = SendResult()
    sendable = []
    for message in messages:
        decision = _check_patient_message(message, now)
        if decision is None:
            sendable.append(message)
            continue
        action, value = decision
        result.add(_cancel(message, token, value) if action == "cancel" else _reschedule(message, token, value))
    if not sendable:
        return result
    to = sendable[0].patient.phone
    # Kept through retries and a resend, so the provider's records and ours name the same text.
    earlier = [m.email_message_id for m in sendable if m.email_message_id and m.handed_over_at]
    earlier += [m.email_message_id for m in sendable if m.email_message_id]
    reference = (earlier or [f"kr-text-{sendable[0].pk}-{secrets.token_hex(6)}"])[0]
    links: dict[int, int] = {}

    def build(rows: list[OutboundMessage]) -> str:
        # The first row's link is the text's; each next row's token is derived from the one before (never stored).
        first_token = questionnaire_token = None
        for row in rows:
            questionnaire_token, links[row.pk] = _mint_link(row, after=questionnaire_token)
            first_token = first_token or questionnaire_token
        return texts.questionnaire_text(
            kind=rows[0].kind,
            clinic_name=rows[0].clinic.name,
            token=first_token,
            supports_stop=backend.supports_stop,
            both_knees=len({row.follow_up.plan.knee for row in rows}) > 1,
            language=emails.patient_language(rows[0]),
        )

    def discard() -> None:
        _discard_links(list(links.values()), None)
        links.clear()

    try:
        backend = texter.backend()
        body = build(sendable)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unusable text (or transport) is recorded on its rows
        return _failed(sendable, token, classify(exc), now, list(links.values()))
    handed = _hand_over(sendable, token=token, now=now, message_id=reference)
    result.lost += len(sendable) - len(handed)
    if not handed:
        discard()
        return result
    if len(handed) < len(sendable):
        # Some rows went to a newer claim while we wrote the text (our lease ran out): write it again without them.
        discard()
        body = build(handed)
    resent = [row.pk for row in handed if row.handed_over_at is not None]
    if resent:
        logger.warning("Texts %s were handed to the provider before without a record; sending again", resent)
    try:
        provider_id = backend.send_text(to=to, body=body, reference=reference)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the rows
        error = classify(exc)
        result.add(_failed(handed, token, error, now, list(links.values())))
        if error.problem:
            _stop_texts(handed[0].patient, error)
        return result
    sent = _record_sent(handed, now=now, to=[to], links=links, message_id=reference, provider_id=provider_id)
    sent.resent = len(resent)
    result.add(sent)
    return result


def _stop_texts(patient, error: TransportError) -> None:
    """The provider will never take a text to this number: say so on the patient (the clinic sees it and can
    correct the number) and cancel their other texts. Emails go on."""

    def write() -> int:
        if error.problem == "opted_out":
            registry_services.patient_unsubscribe_sms(patient=patient)
            reason = "Patient opted out of text messages"
        else:
            registry_services.patient_phone_mark_invalid(patient=patient, reason=error.message)
            reason = "Phone number refused by the text message provider"
        return messages_cancel(patient_id=patient.pk, reason=reason, channel=Channel.SMS)

    _on_fresh_connection(write, what="record the refused phone number", message_ids=[])


def _hand_over(rows: list[OutboundMessage], *, token: str, now: dt.datetime, message_id: str) -> list[OutboundMessage]:
    """The last check before the mail server, one UPDATE: the rows still ours (no newer claim took them when our
    lease ran out), stamped so that from now on no retry of ours takes them, and with the Message-ID stored."""
    ids = [row.pk for row in rows]
    ours = OutboundMessage.objects.filter(pk__in=ids, claimed_by=token, status=MessageStatus.SENDING)
    stamped = ours.update(
        handed_over_at=now, email_message_id=message_id, lease_expires_at=now + conf.get().claim_lease
    )
    if stamped == len(rows):
        return rows
    if not stamped:
        return []
    still_ours = set(OutboundMessage.objects.filter(pk__in=ids, claimed_by=token).values_list("pk", flat=True))
    return [row for row in rows if row.pk in still_ours]


def _send_and_record(
    email,
    rows: list[OutboundMessage],
    *,
    token: str,
    backend,
    now: dt.datetime,
    to: list[str],
    message_id: str,
    links: dict[int, int] | None = None,
    unsubscribe_id: int | None = None,
) -> SendResult:
    links = links or {}
    resent = [row.pk for row in rows if row.handed_over_at is not None]
    if resent:
        logger.warning(
            "Messages %s were handed to the mail server before without a record of the outcome; sending again "
            "with the same Message-ID %s",
            resent,
            message_id,
        )
    email.connection = backend
    try:
        # One SMTP session for the batch (closed when it ends): the session's closing QUIT no longer falls between
        # the server's acceptance and the "sent" record, which made a crash there, and so a duplicate, likelier;
        # and a relay's TLS and AUTH happen once per batch, not once per email.
        backend.open()
        email.send()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the rows; one bad email never stops a batch
        _close_quietly(backend)  # the next email of the batch opens a new session rather than reuse a broken one
        return _failed(rows, token, classify(exc), now, list(links.values()), unsubscribe_id)
    result = _record_sent(rows, now=now, to=to, links=links, message_id=message_id, provider_id=_provider_id(email))
    result.resent = len(resent)
    return result


def _provider_id(email) -> str:
    """The email service's id for a sent email (django-anymail sets `anymail_status`), by which its tracking
    webhooks name it; "" through plain SMTP, which has none and sends no receipts."""
    status = getattr(email, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    if isinstance(message_id, set):  # one id per recipient where the service gives each its own: rare here
        message_id = sorted(message_id)[0] if message_id else None
    return str(message_id or "")[:255]


def _close_quietly(backend) -> None:
    try:
        backend.close()
    except Exception:  # closing a broken session must not hide why it broke
        logger.debug("Closing the mail connection failed", exc_info=True)


def _record_sent(
    rows: list[OutboundMessage],
    *,
    now: dt.datetime,
    to: list[str],
    links: dict[int, int],
    message_id: str,
    provider_id: str = "",
) -> SendResult:
    """The mail server accepted the email: record that once for each row it carried, in one transaction, whatever
    the claim (a copy that went is a copy that went)."""
    ids = [row.pk for row in rows]

    def write() -> int:
        recorded = 0
        for row in rows:
            updated = (
                OutboundMessage.objects.filter(pk=row.pk)
                .exclude(status=MessageStatus.SENT)
                .update(
                    status=MessageStatus.SENT,
                    sent_at=now,
                    attempts=F("attempts") + 1,
                    recipient=", ".join(to),
                    link_id=links.get(row.pk),
                    last_error="",
                    held_reason="",
                    claimed_by="",
                    lease_expires_at=None,
                    handed_over_at=None,
                    email_message_id=message_id,
                    provider_message_id=provider_id,
                    updated_at=timezone.now(),
                )
            )
            if updated:
                DeliveryAttempt.objects.create(message_id=row.pk, attempted_at=now, outcome=AttemptOutcome.SENT)
            elif not DeliveryAttempt.objects.filter(message_id=row.pk, attempted_at=now).exists():
                # Not our own earlier try whose commit reply was lost: another worker recorded this row as sent
                # (our lease ran out mid-send). Both copies went; the record says so.
                DeliveryAttempt.objects.create(message_id=row.pk, attempted_at=now, outcome=AttemptOutcome.SENT)
                logger.error(
                    "Message %s was sent twice (Message-ID %s): a worker outlived its lease", row.pk, message_id
                )
            recorded += updated
        return recorded

    _on_fresh_connection(write, what="record the sent email", message_ids=ids)
    return SendResult(sent=len(rows), sent_ids=ids)


def _discard_links(link_ids: list[int], unsubscribe_id: int | None) -> None:
    # A link that never reached anyone must not stay usable.
    if link_ids:
        QuestionnaireLink.objects.filter(pk__in=link_ids).delete()
    if unsubscribe_id:
        UnsubscribeToken.objects.filter(pk=unsubscribe_id).delete()


def _failed(
    rows: list[OutboundMessage],
    token: str,
    error: TransportError,
    now: dt.datetime,
    link_ids: list[int] | None = None,
    unsubscribe_id: int | None = None,
) -> SendResult:
    """Record a failed hand-over on every row the email carried (one transaction, on a fresh connection if the
    database blinked): retried with backoff, or failed for good."""
    text = error.message[:MAX_ERROR]
    result = SendResult()
    updates = []
    for row in rows:
        attempts = row.attempts + 1
        give_up = error.permanent or attempts >= conf.get().max_attempts
        if give_up:
            reason = text if error.permanent else f"Gave up after {attempts} attempts: {text}"
            fields = {"status": MessageStatus.FAILED, "last_error": reason}
            result.failed += 1
        else:
            when = now + backoff(attempts)
            if row.is_for_patient:
                when = next_sending_time(tz=row.clinic.tzinfo, not_before=when)
            fields = {"status": MessageStatus.PENDING, "last_error": text, "scheduled_for": when, "claimed_at": None}
            result.retrying += 1
        result.reasons[("gave up: " if give_up and not error.permanent else "") + _reason(error)] += 1
        updates.append((row.pk, attempts, fields))

    def write() -> int:
        _discard_links(link_ids or [], unsubscribe_id)
        recorded = 0
        for pk, attempts, fields in updates:
            updated = OutboundMessage.objects.filter(pk=pk, claimed_by=token).update(
                attempts=attempts,
                claimed_by="",
                lease_expires_at=None,
                handed_over_at=None,
                updated_at=timezone.now(),
                **fields,
            )
            if updated:
                DeliveryAttempt.objects.create(
                    message_id=pk,
                    attempted_at=now,
                    outcome=AttemptOutcome.PERMANENT if error.permanent else AttemptOutcome.TRANSIENT,
                    error=text,
                )
            recorded += updated
        return recorded

    _on_fresh_connection(write, what="record the failed attempt", message_ids=[pk for pk, _, _ in updates])
    return result

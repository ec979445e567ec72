"""Claiming due outbox rows and delivering them, each exactly once.

Two claims protect every row. The sweep moves due rows from pending to sending under its own claim token (with
`select_for_update(skip_locked=True)` where the database has row locks). The task that receives the ids then
re-claims them under a token of its own with a conditional update and works only on the rows that update
returned: a duplicate delivery of the same task, or two workers running it at once, finds nothing left to take.
A worker that dies mid-batch leaves its rows in `sending`; once the claim times out the sweep claims them again.

The one window no database can close is a crash after the mail server accepted a message and before the row was
marked sent; the claim timeout then resends it, once. SMTP offers no idempotency key to do better.
"""

import datetime as dt
import logging
import secrets
import smtplib
import socket
import uuid
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import conf, emails
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    UnsubscribeToken,
    hash_unsubscribe_token,
)
from notifications.services.advice import safety_advice_reason_not_to_send
from notifications.services.schedule import in_sending_hours, messages_cancel, next_sending_time, planned_day
from outcomes.models import FollowUpStatus, QuestionnaireLink
from outcomes.models.questionnaire import hash_token
from registry.choices import WRITING_ROLES
from registry.models import Membership

logger = logging.getLogger(__name__)

MAX_ERROR = 1000


class TransportError(Exception):
    """A failed hand-over to the mail server. Permanent errors (a refused or invalid address) fail the message
    at once; temporary ones (a dropped connection, a timeout, a 4xx reply) are retried with backoff."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def classify(exc: BaseException) -> TransportError:
    """What a mail backend's exception means for the message."""
    if isinstance(exc, TransportError):
        return exc
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
    """1, 2, 4, 8 ... minutes after each failed attempt, at most 4 hours."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 240))


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    cancelled: int = 0
    rescheduled: int = 0
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: "SendResult") -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retrying += other.retrying
        self.cancelled += other.cancelled
        self.rescheduled += other.rescheduled
        self.sent_ids.extend(other.sent_ids)


# --- claiming -------------------------------------------------------------------------------------------------


def _claimable(now: dt.datetime) -> Q:
    stale = now - conf.get().claim_timeout
    return Q(status=MessageStatus.PENDING, scheduled_for__lte=now) | Q(
        status=MessageStatus.SENDING, claimed_at__lt=stale
    )


def messages_claim(*, now: dt.datetime | None = None, limit: int | None = None) -> tuple[list[int], str]:
    """Claim up to `limit` due rows (oldest first) for one batch: (ids, claim token)."""
    now = now or timezone.now()
    limit = limit or conf.get().batch_size
    claim = f"sweep:{uuid.uuid4().hex}"
    due = _claimable(now)
    with transaction.atomic():
        candidates = OutboundMessage.objects.filter(due).order_by("scheduled_for", "id")
        if connection.features.has_select_for_update_skip_locked:
            # Two sweeps at once each take different rows instead of waiting on each other.
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return [], claim
        # Without row locks (SQLite) this conditional update is the claim; its count says whether another
        # sweep took some of them first.
        taken = OutboundMessage.objects.filter(due, id__in=ids).update(
            status=MessageStatus.SENDING, claimed_by=claim, claimed_at=now
        )
    if taken != len(ids):
        ids = list(OutboundMessage.objects.filter(claimed_by=claim).values_list("id", flat=True))
    return ids, claim


def messages_release(*, claim: str) -> int:
    """Give rows back to the queue (the broker refused the batch): the next sweep claims them again."""
    return OutboundMessage.objects.filter(claimed_by=claim, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING, claimed_by="", claimed_at=None
    )


# --- sending --------------------------------------------------------------------------------------------------


def messages_send(message_ids: list[int], *, claim: str | None = None, now: dt.datetime | None = None) -> SendResult:
    """Deliver the given rows that are still this batch's to deliver (or pending and due, without a claim)."""
    now = now or timezone.now()
    token = f"task:{uuid.uuid4().hex}"
    takeable = Q(status=MessageStatus.PENDING, scheduled_for__lte=now)
    if claim:
        takeable |= Q(status=MessageStatus.SENDING, claimed_by=claim)
    result = SendResult()
    if not message_ids:
        return result
    taken = OutboundMessage.objects.filter(takeable, id__in=list(message_ids)).update(
        status=MessageStatus.SENDING, claimed_by=token, claimed_at=now
    )
    if not taken:
        return result
    messages = list(
        OutboundMessage.objects.filter(claimed_by=token, status=MessageStatus.SENDING)
        .select_related("clinic", "follow_up__plan", "patient", "recipient_user")
        .order_by("id")
    )
    backend = mail.get_connection(fail_silently=False)
    groups = _one_email_each(messages)
    done = 0
    try:
        for group in groups:
            if group[0].is_for_patient:
                result.add(_process_questionnaires(group, token=token, backend=backend))
            else:
                result.add(_process(group[0], token=token, backend=backend))
            done += 1
    except Exception:
        # The database blinked (the task retries): give back the rows not yet tried, so the retry or the next
        # sweep takes them at once. The email in flight stays claimed until the timeout: it may have been sent.
        untried = [m.pk for group in groups[done + 1 :] for m in group]
        try:
            OutboundMessage.objects.filter(pk__in=untried, claimed_by=token).update(
                status=MessageStatus.PENDING, claimed_by="", claimed_at=None
            )
        except Exception:
            logger.exception("Could not release %s untried messages; the claim timeout will", len(untried))
        raise
    finally:
        try:
            backend.close()
        except Exception:  # closing a broken connection must not hide what happened before
            logger.warning("Closing the mail connection failed", exc_info=True)
    return result


def _one_email_each(messages: list[OutboundMessage]) -> list[list[OutboundMessage]]:
    """The batch's rows grouped by the email that carries them: a patient's questionnaire rows of one kind go in
    one email (a patient treated in both knees hears once, with a link per knee); every other row alone."""
    groups: dict[tuple, list[OutboundMessage]] = {}
    for message in messages:
        key = (message.patient_id, message.kind) if message.is_for_patient else ("row", message.pk)
        groups.setdefault(key, []).append(message)
    return list(groups.values())


def _finish(message: OutboundMessage, token: str, **fields) -> bool:
    """Write the row's outcome if it is still ours (a claim that timed out belongs to the next sweep)."""
    fields.setdefault("updated_at", timezone.now())
    return bool(OutboundMessage.objects.filter(pk=message.pk, claimed_by=token).update(**fields))


def _cancel(message: OutboundMessage, token: str, reason: str) -> SendResult:
    _finish(message, token, status=MessageStatus.CANCELLED, cancelled_reason=reason[:200], claimed_by="")
    return SendResult(cancelled=1)


def _reschedule(message: OutboundMessage, token: str, when: dt.datetime) -> SendResult:
    _finish(message, token, status=MessageStatus.PENDING, scheduled_for=when, claimed_by="", claimed_at=None)
    return SendResult(rescheduled=1)


def _patient_reason_not_to_email(patient) -> str:
    if patient.has_withdrawn:
        return "Consent withdrawn"
    if patient.email_opted_out_at:
        return "Patient unsubscribed from email"
    if not patient.consent_email_contact:
        return "No consent to email contact"
    if not patient.email:
        return "No email address on record"
    return "Email contact not allowed"


def _check_patient_message(message: OutboundMessage, now: dt.datetime):
    """None to send now, else ("cancel", reason) or ("reschedule", when): the send-time safety net."""
    follow_up, patient = message.follow_up, message.patient
    if follow_up.status == FollowUpStatus.COMPLETED:
        return "cancel", "Questionnaire already completed"
    if follow_up.status == FollowUpStatus.CANCELLED:
        return "cancel", f"Follow-up cancelled{': ' + follow_up.cancelled_reason if follow_up.cancelled_reason else ''}"
    if follow_up.status == FollowUpStatus.MISSED:
        return "cancel", "Questionnaire window closed"
    if follow_up.status == FollowUpStatus.NOT_COLLECTED:
        return "cancel", "Baseline not collected: recorded after the injection"
    if not patient.may_email:
        reason = _patient_reason_not_to_email(patient)
        messages_cancel(patient_id=patient.pk, reason=reason)  # the rest of them would only fail the same way
        return "cancel", reason
    tz = message.clinic.tzinfo
    today = now.astimezone(tz).date()
    if today > follow_up.closes_on:
        return "cancel", "Questionnaire window closed"
    day = planned_day(message.kind, opens_on=follow_up.opens_on, closes_on=follow_up.closes_on)
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
    if message.kind == MessageKind.URGENT_FLAG:
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


def _mint_link(message: OutboundMessage) -> tuple[str, int]:
    from outcomes.services import link_create

    token = link_create(follow_up=message.follow_up)
    return token, QuestionnaireLink.objects.values_list("id", flat=True).get(token_hash=hash_token(token))


def _mint_unsubscribe(message: OutboundMessage) -> tuple[str, int]:
    unsubscribe = secrets.token_urlsafe(32)  # 256 bits
    row = UnsubscribeToken.objects.create(
        patient_id=message.patient_id, message=message, token_hash=hash_unsubscribe_token(unsubscribe)
    )
    return unsubscribe, row.pk


def new_message_id(clinic) -> str:
    """The Message-ID header, kept on every row the email carried (OutboundMessage.email_message_id)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "knee-registry.invalid"
    return make_msgid(idstring=f"c{clinic.pk}", domain=domain)


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

    link_ids: list[int] = []
    unsubscribe_id = None
    message_id = new_message_id(sendable[0].clinic)
    try:
        tokens = []
        for message in sendable:
            questionnaire_token, link_id = _mint_link(message)
            tokens.append(questionnaire_token)
            link_ids.append(link_id)
        unsubscribe_token, unsubscribe_id = _mint_unsubscribe(sendable[0])
        email = emails.build_questionnaires(
            sendable,
            to=to,
            questionnaire_tokens=tokens,
            unsubscribe_token=unsubscribe_token,
            message_id=message_id,
        )
        email.connection = backend
        email.send()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the rows; one bad email never stops a batch
        error = classify(exc)
        _discard_links(link_ids, unsubscribe_id)
        for message in sendable:
            result.add(_failed(message, token, error, now))
        return result

    for message, link_id in zip(sendable, link_ids, strict=True):
        result.add(_sent(message, token, now=now, to=to, link_id=link_id, email_message_id=message_id))
    return result


def _sent(
    message: OutboundMessage, token: str, *, now: dt.datetime, to: list[str], link_id=None, email_message_id=""
) -> SendResult:
    """Record that the mail server took the email carrying this row."""
    _finish(
        message,
        token,
        status=MessageStatus.SENT,
        sent_at=now,
        attempts=F("attempts") + 1,
        recipient=", ".join(to),
        link_id=link_id,
        email_message_id=email_message_id,
        last_error="",
        claimed_by="",
    )
    DeliveryAttempt.objects.create(message=message, attempted_at=now, outcome=AttemptOutcome.SENT)
    result = SendResult(sent=1)
    result.sent_ids.append(message.pk)
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
    message_id = new_message_id(message.clinic)
    try:
        email = emails.build(message, to=to)
        email.extra_headers["Message-ID"] = message_id
        email.connection = backend
        email.send()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row; one bad message never stops a batch
        return _failed(message, token, classify(exc), now)
    return _sent(message, token, now=now, to=to, email_message_id=message_id)


def _discard_links(link_ids: list[int], unsubscribe_id: int | None) -> None:
    # A link that never reached anyone must not stay usable.
    if link_ids:
        QuestionnaireLink.objects.filter(pk__in=link_ids).delete()
    if unsubscribe_id:
        UnsubscribeToken.objects.filter(pk=unsubscribe_id).delete()


def _failed(message: OutboundMessage, token: str, error: TransportError, now: dt.datetime) -> SendResult:
    attempts = message.attempts + 1
    text = error.message[:MAX_ERROR]
    give_up = error.permanent or attempts >= conf.get().max_attempts
    DeliveryAttempt.objects.create(
        message=message,
        attempted_at=now,
        outcome=AttemptOutcome.PERMANENT if error.permanent else AttemptOutcome.TRANSIENT,
        error=text,
    )
    if give_up:
        reason = text if error.permanent else f"Gave up after {attempts} attempts: {text}"
        logger.warning("Message %s failed: %s", message.pk, reason)
        _finish(message, token, status=MessageStatus.FAILED, attempts=attempts, last_error=reason, claimed_by="")
        return SendResult(failed=1)
    when = now + backoff(attempts)
    if message.is_for_patient:
        when = next_sending_time(tz=message.clinic.tzinfo, not_before=when)
    logger.info("Message %s: temporary error, retrying at %s: %s", message.pk, when.isoformat(), text)
    _finish(
        message,
        token,
        status=MessageStatus.PENDING,
        attempts=attempts,
        last_error=text,
        scheduled_for=when,
        claimed_by="",
        claimed_at=None,
    )
    return SendResult(retrying=1)

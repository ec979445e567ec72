"""Delivery receipts in the registry's words: what each provider's status means (one DeliveryState for every
provider), and the precedence rule that turns all of a message's receipts into its current state. Pure: no database.

Callbacks arrive late, twice and out of order, and a long text may be reported part by part. So the state is
never just "the latest receipt":
- a failure is never hidden: any failed part makes the message failed, whatever was delivered before or after
  (the worst failure wins: a complaint, then a bounce, then a temporary failure);
- otherwise each part counts by how far it got (queued < sent < delayed < delivered < opened), so an older
  "sending" arriving after "delivered" changes nothing; and the message is only as far as its least advanced part.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from notifications.models import DeliveryState

PROGRESS = {
    DeliveryState.QUEUED: 1,
    DeliveryState.SENT: 2,
    DeliveryState.DEFERRED: 3,
    DeliveryState.DELIVERED: 4,
    DeliveryState.OPENED: 5,
}
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
FAILURE = {DeliveryState.FAILED_TEMPORARY: 1, DeliveryState.FAILED_PERMANENT: 2, DeliveryState.COMPLAINED: 3}


@dataclass(frozen=True)
class Reading:
    """What one provider status means: the registry state, a reason a clinician can act on, and for a text that
    failed for good whether the number is bad ("invalid_number") or the patient opted out ("opted_out")."""

    state: str
    reason: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Seen:
    """One stored receipt, as the precedence rule needs it."""

    state: str
    reason: str = ""
    segment: str = ""
    at: dt.datetime | None = None


def current_state(receipts: Iterable[Seen]) -> tuple[str, str]:
    """(state, reason) of a message from all its receipts; ("", "") when it has none."""
    receipts = list(receipts)
    if not receipts:
        return "", ""
    failures = [r for r in receipts if r.state in FAILURE]
    if failures:
        worst = max(failures, key=lambda r: (FAILURE[r.state], r.at or EARLIEST))
        return worst.state, worst.reason
    furthest: dict[str, Seen] = {}
    for receipt in receipts:
        best = furthest.get(receipt.segment)
        if best is None or PROGRESS.get(receipt.state, 0) > PROGRESS.get(best.state, 0):
            furthest[receipt.segment] = receipt
    least = min(furthest.values(), key=lambda r: PROGRESS.get(r.state, 0))
    return least.state, least.reason


# --- GOV.UK Notify (https://docs.notifications.service.gov.uk/python.html#delivery-receipts) -----------------

NOTIFY_STATUSES = {
    "created": Reading(DeliveryState.QUEUED),
    "sending": Reading(DeliveryState.SENT),
    "pending": Reading(DeliveryState.SENT),
    "sent": Reading(DeliveryState.SENT),  # an international text: Notify gets no delivery receipt for it
    "delivered": Reading(DeliveryState.DELIVERED),
    "permanent-failure": Reading(
        DeliveryState.FAILED_PERMANENT, "the phone network says the number does not exist", "invalid_number"
    ),
    "temporary-failure": Reading(DeliveryState.FAILED_TEMPORARY, "phone switched off or out of signal"),
    "technical-failure": Reading(DeliveryState.FAILED_TEMPORARY, "a fault at GOV.UK Notify, not the number"),
}


def read_notify(status: str) -> Reading | None:
    return NOTIFY_STATUSES.get(status)


# --- Twilio (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status) --------------------

TWILIO_STATUSES = {
    "accepted": DeliveryState.QUEUED,
    "scheduled": DeliveryState.QUEUED,
    "queued": DeliveryState.QUEUED,
    "sending": DeliveryState.SENT,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.OPENED,
}
# Error codes on an undelivered/failed text (https://www.twilio.com/docs/api/errors).
TWILIO_ERRORS = {
    "30003": "phone switched off or unreachable",
    "30004": "blocked by the recipient or the network",
    "30005": "unknown number: it does not exist",
    "30006": "a landline, or a network that cannot take texts",
    "30007": "filtered by the network as spam",
    "30008": "an unknown error at the network",
    "21610": "the patient replied STOP",
    "21211": "not a valid phone number",
    "21614": "not a mobile number",
}
TWILIO_NUMBER_BAD = {"30005", "30006", "21211", "21214", "21217", "21407", "21408", "21421", "21612", "21614"}
TWILIO_STOPPED = {"21610"}


def read_twilio(status: str, error_code: str = "") -> Reading | None:
    if status in TWILIO_STATUSES:
        return Reading(TWILIO_STATUSES[status])
    if status not in ("undelivered", "failed", "canceled"):
        return None
    code = (error_code or "").strip()
    reason = f"Twilio error {code}: {TWILIO_ERRORS.get(code, 'see Twilio error list')}" if code else status
    if code in TWILIO_NUMBER_BAD:
        return Reading(DeliveryState.FAILED_PERMANENT, reason, "invalid_number")
    if code in TWILIO_STOPPED:
        return Reading(DeliveryState.FAILED_PERMANENT, reason, "opted_out")
    return Reading(DeliveryState.FAILED_TEMPORARY, reason)


# --- Email services through django-anymail (anymail.signals.EventType) --------------------------------------

ANYMAIL_EVENTS = {
    "queued": DeliveryState.QUEUED,
    "sent": DeliveryState.SENT,
    "deferred": DeliveryState.DEFERRED,  # a soft bounce: the service tries again
    "delivered": DeliveryState.DELIVERED,
    "opened": DeliveryState.OPENED,
    "clicked": DeliveryState.OPENED,
    "bounced": DeliveryState.FAILED_PERMANENT,  # a hard bounce
    "rejected": DeliveryState.FAILED_PERMANENT,  # refused to send, e.g. the address is on its suppression list
    "failed": DeliveryState.FAILED_TEMPORARY,  # could not send, not the address's fault (e.g. a template error)
    "complained": DeliveryState.COMPLAINED,
}


def read_anymail(event_type: str, description: str = "") -> Reading | None:
    """None for events that say nothing about delivery (inbound, autoresponded, unknown, unsubscribed: our own
    unsubscribe link is the way out)."""
    state = ANYMAIL_EVENTS.get(event_type)
    if state is None:
        return None
    reason = (description or "").strip()
    if state == DeliveryState.FAILED_PERMANENT and not reason:
        reason = "the address does not accept mail" if event_type == "bounced" else "refused by the mail service"
    return Reading(state, reason[:300])

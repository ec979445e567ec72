"""Write paths of the notifications app. Import from here; the modules split it by subject."""

from notifications.services.advice import safety_advice_write
from notifications.services.clinic import (
    link_locked_notify,
    send_soon,
    serious_event_notify,
    serious_events_catch_up,
    urgent_flag_notify,
    urgent_flags_catch_up,
)
from notifications.services.contact import (
    call_attempt_record,
    contact_copies_erase,
    unsubscribe_confirm,
    unsubscribe_resolve,
)
from notifications.services.ops import message_requeue
from notifications.services.receipts import Callback, fallback_queue, receipt_record
from notifications.services.schedule import messages_cancel, messages_reschedule, messages_schedule, next_sending_time
from notifications.services.sending import (
    SendResult,
    TransportError,
    classify,
    messages_claim,
    messages_release,
    messages_send,
)
from notifications.services.sweep import SweepReport, digests_queue, followups_sweep

__all__ = [
    "Callback",
    "SendResult",
    "SweepReport",
    "TransportError",
    "call_attempt_record",
    "classify",
    "contact_copies_erase",
    "digests_queue",
    "fallback_queue",
    "followups_sweep",
    "link_locked_notify",
    "message_requeue",
    "messages_cancel",
    "messages_claim",
    "messages_release",
    "messages_reschedule",
    "messages_schedule",
    "messages_send",
    "next_sending_time",
    "receipt_record",
    "safety_advice_write",
    "send_soon",
    "serious_event_notify",
    "serious_events_catch_up",
    "unsubscribe_confirm",
    "unsubscribe_resolve",
    "urgent_flag_notify",
    "urgent_flags_catch_up",
]

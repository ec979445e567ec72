"""The outbox in the tests: one sweep, sending inline (what `process_followups` does)."""

from notifications import services


def send_inline(ids, claim):
    return services.messages_send(ids, claim=claim)


def sweep():
    """One sweep, sending inline (what `process_followups` does)."""
    return services.followups_sweep(dispatch=send_inline)

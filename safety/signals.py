"""Domain events the safety app announces to the apps above it (notifications). Each is sent on commit."""

from django.dispatch import Signal

# flag: a Flag just raised (sent once per flag, after the transaction that created it commits). Notifications
# emails clinicians at once for urgent flags and adds the others to the clinic's daily digest.
flag_raised = Signal()

# event: an adverse event became serious (recorded serious, or corrected to serious). The clinic lead is emailed.
adverse_event_serious = Signal()

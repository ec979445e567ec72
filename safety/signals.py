"""Domain events the safety app announces to the apps above it (notifications)."""

from django.dispatch import Signal

# flag: a Flag just raised (sent once per flag, after the transaction that created it commits). Notifications
# emails clinicians at once for urgent flags and adds the others to the clinic's daily digest.
flag_raised = Signal()

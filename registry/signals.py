"""Domain events the registry announces to apps above it (outcomes, notifications).

Sent inside the registry service's transaction, so a receiver's writes commit or roll back with the change.
"""

from django.dispatch import Signal

# patient: just enrolled (registered); outcomes allocates them to a running reminder comparison.
patient_enrolled = Signal()
# injection: the Injection just recorded.
injection_recorded = Signal()
# injection, previous_date: the injection's date moved; follow-ups and pending messages move with it.
injection_date_changed = Signal()
# patient: consent withdrawn; all contact stops from now on.
consent_withdrawn = Signal()

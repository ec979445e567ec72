"""Audit's domain events, for the apps above it (imports point down: audit cannot reach into them).

``contact_details_erasing(patient, values)``: sent inside the erasure's transaction, before the access-log row,
so an app holding copies of the patient's name, email or phone scrubs them (with ``audit.erasure.scrub_rows``).
Sent with ``send``, not ``send_robust``: a receiver that fails rolls the whole erasure back, so an erasure is
never recorded as done while a copy remains."""

from django.dispatch import Signal

contact_details_erasing = Signal()

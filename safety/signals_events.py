"""Domain signals of adverse events. Sent on commit by safety.services_events; notifications connects to them."""

from django.dispatch import Signal

# An event became serious (recorded serious, or corrected to serious): kwargs `event`. The clinic lead is emailed.
adverse_event_serious = Signal()

# An export job was queued (sent on commit): kwargs `job_id`. Notifications runs it on a Celery worker.
export_job_requested = Signal()

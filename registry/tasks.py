"""The one Celery task decorator every app uses (registry is the lowest app, so any app may import it).

Every task goes through `registry_task`, so names are explicit, delivery is at-least-once (acks_late,
reject_on_worker_lost) and only transient errors are retried, with a short exponential backoff (never a countdown
longer than minutes: the sweeps own long delays). Tasks themselves are small shims that call a service with ids.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

# Worth another try: the database or the network blinked. Anything else is a bug, and retrying hides it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def registry_task(name: str, *, autoretry_for=TRANSIENT_ERRORS, max_retries: int = 5, **options):
    return shared_task(
        name=name,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        autoretry_for=autoretry_for,
        retry_backoff=5,
        retry_backoff_max=300,
        retry_jitter=True,
        max_retries=max_retries,
        soft_time_limit=options.pop("soft_time_limit", 240),
        time_limit=options.pop("time_limit", 300),
        **options,
    )

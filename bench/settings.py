"""Settings of the benchmark processes only (`make bench`): the product's settings plus the bench-only views.

Never used in production: it refuses to load with DJANGO_ENV=production, and `bench/urls.py` adds its views only
when BENCH_VIEWS is true, which nothing but this module sets.
"""

from config.settings import *  # noqa: F403
from config.settings import PRODUCTION

if PRODUCTION:  # pragma: no cover - a guard, not a feature
    raise RuntimeError("bench.settings is for benchmark runs on a laptop or CI, never production.")

BENCH_VIEWS = True
ROOT_URLCONF = "bench.urls"
# Patients are emailed in daytime only; the sweep benchmark must find its 10,000 invitations due whatever the hour.
NOTIFICATIONS_SENDING_HOURS = "00:00-24:00"
# Batches handed to workers by the sweep go to a queue of their own, purged afterwards (no worker consumes it).
CELERY_TASK_DEFAULT_QUEUE = "bench"

"""Celery tasks of the outcomes app: shims that call a service (see notifications.tasks for the conventions)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from outcomes.analysis import plan_outcomes

logger = logging.getLogger(__name__)

# Plans rebuilt per run: a minute's worth of changes at national scale, in a few seconds.
REFRESH_LIMIT = 50_000


@shared_task(
    name="outcomes.refresh_plan_outcomes",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=0,  # the next beat tick is the retry
    soft_time_limit=240,
    time_limit=300,
)
def refresh_plan_outcomes() -> None:
    """Keep the dashboard's per-plan summary current, so a dashboard load rarely has plans to rebuild itself."""
    rebuilt = plan_outcomes.refresh(limit=REFRESH_LIMIT)
    if rebuilt:
        logger.info("Rebuilt the outcome summary of %s plans", rebuilt)

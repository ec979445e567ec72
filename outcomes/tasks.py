"""Celery tasks of the outcomes app: shims that call a service (see registry.tasks for the conventions)."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from outcomes.analysis import plan_outcomes

logger = logging.getLogger(__name__)


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
    """Keep the dashboard's per-plan summary current, so a dashboard load rarely has plans to rebuild itself. A
    long queue (a bulk import) is one whole-registry statement: about 20 s at 1,000,000 injections."""
    rebuilt = plan_outcomes.refresh()
    if rebuilt:
        logger.info("Rebuilt the outcome summary of %s plans", rebuilt)

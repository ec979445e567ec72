"""Each Celery task's heartbeat (notifications.models.TaskHeartbeat), written from Celery's task signals so no
task has to remember it. One UPDATE when a task starts and one when it ends; a row is created on a task's first
run. A heartbeat that cannot be written (the database is down) is logged and never fails the task."""

import logging
import time

from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from django.db.models import F
from django.utils import timezone

from notifications.models import TaskHeartbeat

logger = logging.getLogger(__name__)

SWEEP_TASK = "notifications.followups_sweep"

# task id -> monotonic start, in the process that runs it (prerun and postrun run in the same process).
_started: dict[str, float] = {}


def _name(task) -> str:
    return getattr(task, "name", None) or "unknown"


def _fresh_connection(task) -> None:
    # After a database blip the task's connection is dead; Celery's Django fix-up replaces it only after these
    # receivers run, so do it first (never for eager calls: they run inside the caller's transaction).
    if not getattr(getattr(task, "request", None), "is_eager", True):
        close_old_connections()


@task_prerun.connect(dispatch_uid="notifications.heartbeat.started")
def task_started(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = time.monotonic()
    now = timezone.now()
    try:
        _fresh_connection(task)
        if not TaskHeartbeat.objects.filter(task=_name(task)).update(last_started_at=now):
            TaskHeartbeat.objects.update_or_create(task=_name(task), defaults={"last_started_at": now})
    except Exception:
        logger.warning("Could not record the start of %s", _name(task), exc_info=True)


@task_postrun.connect(dispatch_uid="notifications.heartbeat.finished")
def task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    now = timezone.now()
    succeeded = state == "SUCCESS"
    fields = {
        "last_finished_at": now,
        "last_duration_seconds": time.monotonic() - started if started is not None else 0.0,
        "runs": F("runs") + 1,
        "failures": F("failures") + (0 if succeeded else 1),
    }
    if succeeded:
        fields["last_succeeded_at"] = now
    try:
        _fresh_connection(task)
        if not TaskHeartbeat.objects.filter(task=_name(task)).update(**fields):
            TaskHeartbeat.objects.get_or_create(task=_name(task))
            TaskHeartbeat.objects.filter(task=_name(task)).update(**fields)
    except Exception:
        logger.warning("Could not record the end of %s", _name(task), exc_info=True)


def sweep_age_seconds(now=None) -> float | None:
    """Seconds since the follow-up sweep last finished without error, or None if it never has."""
    last = TaskHeartbeat.objects.filter(task=SWEEP_TASK).values_list("last_succeeded_at", flat=True).first()
    if last is None:
        return None
    return ((now or timezone.now()) - last).total_seconds()

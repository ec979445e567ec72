import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic task, in one place. Each entry expires before its next run, so a worker that was down does not
# come back to a pile of identical sweeps. Tasks are named by string: this module imports no app code.
BEAT_SCHEDULE = {
    "notifications.followups_sweep": {
        "task": "notifications.followups_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Hourly, because each clinic's morning comes at a different UTC hour; one digest per clinic per day.
    "notifications.missed_digest": {
        "task": "notifications.missed_digest",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    # The dashboard's per-plan summary (outcomes.models.PlanOutcome): plans queued by changes since the last run.
    "outcomes.refresh_plan_outcomes": {
        "task": "outcomes.refresh_plan_outcomes",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Adverse-event export files are deleted once their download link has expired.
    "safety.export_files_expire": {
        "task": "safety.export_files_expire",
        "schedule": crontab(minute=35),
        "options": {"expires": 50 * 60},
    },
    # Safety's net (safety.tasks, registered under its old name): flag rules a submission never finished.
    "notifications.evaluate_pending": {
        "task": "notifications.evaluate_pending",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    # Notifications' net: urgent flags and serious adverse events whose emails were never written.
    "notifications.safety_notices_catch_up": {
        "task": "notifications.safety_notices_catch_up",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE


@after_setup_logger.connect
@after_setup_task_logger.connect
def structured_logs(logger=None, **kwargs):
    """Celery replaces the root logger's handlers in the worker and beat; in production (LOG_FORMAT=json) its
    lines become JSON objects like Django's, with questionnaire tokens redacted as everywhere else."""
    from django.conf import settings

    if getattr(settings, "LOG_FORMAT", "text") != "json" or logger is None:
        return
    from registry.logging import RedactQuestionnaireTokens, json_formatter

    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        handler.addFilter(RedactQuestionnaireTokens())

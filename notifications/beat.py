"""Every periodic task, in one place (wired in as settings.CELERY_BEAT_SCHEDULE). Each entry expires before its
next run, so a worker that was down does not come back to a pile of identical sweeps."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
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

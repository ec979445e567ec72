"""Safety's tasks live in safety.tasks but keep the names they were queued and scheduled under before they moved
there: a message already in the broker at a deploy, and every beat entry, still finds its task."""

from config.celery import BEAT_SCHEDULE, app
from safety import tasks


def test_tasks_queued_under_their_names_before_the_move_still_run_safetys_code():
    for name, task in {
        "notifications.evaluate_submission": tasks.evaluate_submission,
        "notifications.evaluate_pending": tasks.evaluate_pending,
        "safety.export_job_run": tasks.export_job_run,
        "safety.export_files_expire": tasks.export_files_expire,
    }.items():
        assert app.tasks[name].run.__module__ == "safety.tasks", name
        assert app.tasks[name].name == task.name


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    missing = [entry["task"] for entry in BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]
    assert missing == []

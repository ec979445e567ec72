"""Background exports of adverse events (imported by notifications.tasks, so the worker registers it)."""

from django.apps import apps

from registry.tasks import registry_task


# No automatic retry: a failed export is recorded on its job and the requester asks again; a long one must not
# run twice. Time limits fit a report of a few hundred thousand rows.
@registry_task("safety.export_job_run", autoretry_for=(), max_retries=0, soft_time_limit=1800, time_limit=1900)
def export_job_run(job_id: int) -> None:
    if not apps.is_installed("safety"):
        return
    from safety.exports.service import export_job_run as run

    run(job_id)


@registry_task("safety.export_files_expire", max_retries=0)
def export_files_expire() -> None:
    if not apps.is_installed("safety"):
        return
    from safety.exports.service import export_files_expire as expire

    expire()

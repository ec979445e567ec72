"""Exports of adverse events: what each format holds, whether it is built now or as a background job, and the log
every export leaves (who, when, format, filters, row count).

CSV always streams (constant memory). XLSX, PDF and FHIR JSON are built within the request up to
settings.EXPORT_SYNC_MAX_ROWS events (default 2000); above that they become an ExportJob built by a Celery task
(safety.tasks.export_job_run -> export_job_run here), queued once the request commits. Only the requester can
download a job's file, until it expires (EXPORT_LINK_LIFETIME).
"""

import json
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.choices import Product
from registry.models import Clinic
from safety import selectors
from safety.choices import Causality, ExportFormat, ExportStatus
from safety.exports import fhir_export, pdf_export, xlsx_export
from safety.exports.summary import summary_rows
from safety.models import EXPORT_LINK_LIFETIME, ExportJob, ExportLog
from safety.selectors import EventFilters

logger = logging.getLogger(__name__)

DEFAULT_SYNC_MAX_ROWS = 2000
EXTENSIONS = {ExportFormat.CSV: "csv", ExportFormat.XLSX: "xlsx", ExportFormat.PDF: "pdf", ExportFormat.FHIR: "json"}
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PDF: "application/pdf",
    ExportFormat.FHIR: "application/fhir+json",
}


def sync_max_rows() -> int:
    return int(getattr(settings, "EXPORT_SYNC_MAX_ROWS", DEFAULT_SYNC_MAX_ROWS))


def export_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def filename(format: str, *, stamp=None) -> str:
    stamp = stamp or timezone.localtime()
    return f"adverse-events-{stamp:%Y%m%d-%H%M}.{EXTENSIONS[format]}"


def covered_clinic_ids(user, filters: EventFilters) -> list[int]:
    clinics = selectors.export_clinics_for(user)
    if filters.clinic_ids:
        clinics = clinics.filter(id__in=filters.clinic_ids)
    return list(clinics.values_list("id", flat=True))


def filters_text(filters: EventFilters) -> str:
    """The filters in words, for the top of every report."""
    parts = [f"Onset {pdf_export.period_text(filters.onset_from, filters.onset_to)}"]
    if filters.clinic_ids:
        names = Clinic.objects.filter(id__in=filters.clinic_ids).order_by("name").values_list("name", flat=True)
        parts.append("clinic: " + ", ".join(names))
    else:
        parts.append("all your clinics")
    if filters.product:
        parts.append(f"product: {Product(filters.product).label}")
    if filters.serious is not None:
        parts.append("serious events only" if filters.serious else "non-serious events only")
    if filters.causality:
        parts.append("causality: " + ", ".join(Causality(c).label for c in filters.causality))
    return "; ".join(parts)


def export_log_record(
    *, user, format: str, filters: EventFilters, row_count: int, job=None, clinic_ids: list[int] | None = None
) -> ExportLog:
    log = ExportLog.objects.create(
        user=user, format=format, filters=filters.as_json(), row_count=row_count, job=job, at=timezone.now()
    )
    log.clinics.set(clinic_ids if clinic_ids is not None else covered_clinic_ids(user, filters))
    return log


def needs_job(user, format: str, filters: EventFilters) -> bool:
    """Whether this export is too large to build within a request (CSV never is: it streams)."""
    if format == ExportFormat.CSV:
        return False
    return selectors.events_for_export(user, filters).count() > sync_max_rows()


def build(format: str, target, *, user, filters: EventFilters, on_progress=None) -> int:
    """Write the export of `format` to `target` (a path or a binary file); returns its row count."""
    events = selectors.events_for_export(user, filters)
    if format == ExportFormat.XLSX:
        summary = summary_rows(user, filters, events)
        return xlsx_export.write_xlsx(
            target, events=events, summary=summary, filters_text=filters_text(filters), on_progress=on_progress
        )
    if format == ExportFormat.PDF:
        summary = summary_rows(user, filters, events)
        return pdf_export.write_report_pdf(
            target, events=events, summary=summary, filters_text=filters_text(filters), on_progress=on_progress
        )
    if format == ExportFormat.FHIR:
        document = fhir_export.bundle(events, timestamp=timezone.now().isoformat())
        data = json.dumps(document, indent=1).encode()
        if isinstance(target, str | Path):
            Path(target).write_bytes(data)
        else:
            target.write(data)
        return len(document["entry"])
    raise ValueError(f"{format} is streamed, not built")


@transaction.atomic
def export_job_request(*, user, format: str, filters: EventFilters) -> ExportJob:
    """Queue an export to be built in the background; the task is sent once this transaction commits."""
    from safety.tasks import export_job_run  # the task calls this module: imported when needed

    job = ExportJob.objects.create(requested_by=user, format=format, filters=filters.as_json())
    job_id = job.pk

    def enqueue() -> None:
        try:
            export_job_run.delay(job_id)
        except Exception:  # broker down: the job stays "queued" on its page; the requester can ask again
            logger.exception("Could not queue export job %s", job_id)

    transaction.on_commit(enqueue)
    return job


def export_job_run(job_id: int) -> ExportJob:
    """Build a job's file (idempotent: a finished job is left alone). Runs in the worker."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now()
    )
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    if not claimed:
        return job  # another worker has it, or it is finished
    filters = EventFilters.from_json(job.filters)
    user = job.requested_by
    total = max(selectors.events_for_export(user, filters).count(), 1)

    def progress(n: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(progress=min(99, round(100 * n / total)))

    relative = f"exports/{job.pk}-{uuid.uuid4().hex}.{EXTENSIONS[job.format]}"
    path = Path(settings.MEDIA_ROOT) / relative
    export_dir()
    try:
        rows = build(job.format, str(path), user=user, filters=filters, on_progress=progress)
    except Exception as exc:
        logger.exception("Export job %s failed", job_id)
        path.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    now = timezone.now()
    with transaction.atomic():
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.DONE,
            progress=100,
            row_count=rows,
            file_path=relative,
            finished_at=now,
            expires_at=now + EXPORT_LINK_LIFETIME,
        )
        export_log_record(user=user, format=job.format, filters=filters, row_count=rows, job=job)
    job.refresh_from_db()
    return job


def job_file(job: ExportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / job.file_path


def job_expire_file(job: ExportJob) -> None:
    """An expired job's file is removed when it is next asked for (the row stays, for the record)."""
    if job.file_path:
        job_file(job).unlink(missing_ok=True)


def export_files_expire(*, now=None) -> int:
    """Remove the files of jobs whose link has expired (hourly, by beat), not only when someone asks for one:
    pseudonymised rows still should not outlive their purpose. The job row stays, for the record."""
    now = now or timezone.now()
    expired = ExportJob.objects.filter(expires_at__lte=now).exclude(file_path="")
    removed = 0
    for job in expired.only("pk", "file_path").iterator():
        job_expire_file(job)
        removed += 1
    expired.update(file_path="")
    return removed

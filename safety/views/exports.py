"""The auditors' export page and background export jobs.

Exports are for auditors and clinic leads (administrators everywhere), over the clinics where they hold that
role; anyone else gets 403, and a clinic outside their scope 404. Every export is logged (ExportLog). Asking for
an export is a POST (it writes a log row, maybe a job): a link scanner never starts one.
"""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from registry import downloads
from registry.scoping import get_for_user_or_404
from safety import selectors
from safety.choices import ExportFormat, ExportStatus
from safety.exports import service
from safety.exports.csv_export import csv_chunks
from safety.forms import ExportForm
from safety.models import ExportLog

RECENT = 25


def _require_exporter(request) -> None:
    if not selectors.can_export(request.user):
        raise PermissionDenied("Exports are for auditors and clinic leads.")


def _page(request, form: ExportForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "safety/exports/export_page.html",
        {
            "form": form,
            "formats": ExportFormat.choices,
            "jobs": selectors.export_jobs_for(request.user)[:RECENT],
            "logs": selectors.export_logs_for(request.user)[:RECENT],
            "sync_max_rows": service.sync_max_rows(),
        },
        status=status,
    )


def _attachment(response: HttpResponse, format: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{service.filename(format)}"'
    return response


def _stream_csv(request, filters, *, bom: bool) -> StreamingHttpResponse:
    events = selectors.events_for_export(request.user, filters)
    log = service.export_log_record(
        user=request.user, format=ExportFormat.CSV, filters=filters, row_count=events.count()
    )

    def streamed(rows: int) -> None:
        # The count logged up front, corrected to what was actually streamed.
        if rows != log.row_count:
            ExportLog.objects.filter(pk=log.pk).update(row_count=rows)

    response = StreamingHttpResponse(
        csv_chunks(events, on_done=streamed, bom=bom), content_type=service.CONTENT_TYPES[ExportFormat.CSV]
    )
    response["X-Accel-Buffering"] = "no"  # let a proxy pass rows on as they come
    return _attachment(response, ExportFormat.CSV)


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    _require_exporter(request)
    clinics = selectors.export_clinics_for(request.user)
    if request.method == "GET":
        return _page(request, ExportForm(clinics=clinics))
    clinic = request.POST.get("clinic")
    if clinic and not clinics.filter(pk=clinic if clinic.isdigit() else -1).exists():
        raise Http404("No such clinic among yours.")
    form = ExportForm(request.POST, clinics=clinics)
    format = request.POST.get("format", "")
    if not form.is_valid() or format not in ExportFormat.values:
        if format not in ExportFormat.values:
            form.add_error(None, "Choose a format.")
        return _page(request, form, status=400)
    filters = form.filters()
    if format == ExportFormat.CSV:
        return _stream_csv(request, filters, bom=downloads.wants_bom(request.POST))
    if service.needs_job(request.user, format, filters):
        job = service.export_job_request(user=request.user, format=format, filters=filters)
        messages.info(request, "This export is large: it is being built in the background.")
        return redirect("safety:export-job", pk=job.pk)
    buffer = io.BytesIO()
    rows = service.build(format, buffer, user=request.user, filters=filters)
    service.export_log_record(user=request.user, format=format, filters=filters, row_count=rows)
    response = HttpResponse(buffer.getvalue(), content_type=service.CONTENT_TYPES[format])
    return _attachment(response, format)


@login_required
@require_safe
def export_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_for_user_or_404(selectors.export_jobs_for(request.user), pk=pk)
    return render(
        request,
        "safety/exports/export_job.html",
        {"job": job, "refresh": job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)},
    )


@login_required
@require_GET
def export_job_download(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the requester (404 for anyone else), only while the link lives (410 after)."""
    job = get_for_user_or_404(selectors.export_jobs_for(request.user), pk=pk)
    if job.status != ExportStatus.DONE:
        raise Http404("This export is not ready.")
    if job.is_expired:
        service.job_expire_file(job)
        return render(request, "safety/exports/export_expired.html", {"job": job}, status=410)
    path = service.job_file(job)
    if not path.exists():
        raise Http404("The file is no longer available.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=service.filename(job.format, stamp=job.created_at),
        content_type=service.CONTENT_TYPES[job.format],
    )

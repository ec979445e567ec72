"""Downloads of the consultations and fallback reviews for auditors and clinic leads (consultations.exports).

As the adverse-event exports (safety.views.exports): only for users who may export (403 otherwise), a clinic
outside their scope is 404, and asking is a POST, because it writes the export log: a link scanner never starts
one. Parameters that do not parse are a 400 that says which and why."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_POST

from consultations import exports
from registry import downloads
from safety.models import ExportLog
from safety.selectors import can_export


def _export(request: HttpRequest, export: str) -> HttpResponse:
    if not can_export(request.user):
        raise PermissionDenied("Exports are for auditors and clinic leads.")
    form = exports.ExportFilterForm(request.POST)
    if not form.is_valid():
        errors = "\n".join(f"{field}: {' '.join(messages)}" for field, messages in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    filters = exports.export_filters(request.user, form)
    if filters is None:
        raise Http404("No such clinic among yours.")
    columns, selected, rows = exports.EXPORTS[export]
    records = selected(filters)
    log = exports.export_logged(user=request.user, export=export, filters=filters, row_count=records.count())

    def streamed(count: int) -> None:
        if count != log.row_count:  # the count logged up front, corrected to what was streamed
            ExportLog.objects.filter(pk=log.pk).update(row_count=count)

    response = StreamingHttpResponse(
        exports.csv_chunks(columns, rows(records), on_done=streamed, bom=downloads.wants_bom(request.POST)),
        content_type="text/csv; charset=utf-8",
    )
    response["X-Accel-Buffering"] = "no"
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(export)}"'
    return response


@login_required
@require_POST
def consultations_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "consultations")


@login_required
@require_POST
def reviews_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "fallback-reviews")

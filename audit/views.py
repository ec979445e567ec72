"""The auditor's page (/audit/) and the streamed CSV of the whole trail. Auditors, clinic leads and
administrators only; everyone else gets 403. Exporting the trail is itself logged."""

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_safe

from audit import trail
from registry import downloads


def _filters(request: HttpRequest) -> tuple[trail.TrailFilter, dict[str, str]]:
    raw = {key: request.GET.get(key, "").strip()[:150] for key in ("registry_number", "user", "since", "until")}

    def day(value: str, *, end: bool = False):
        try:
            parsed = datetime.strptime(value, "%Y-%m-%d").date()  # noqa: DTZ007 - made aware just below
        except ValueError:
            raw_key = "until" if end else "since"
            raw[raw_key] = ""
            return None
        moment = timezone.make_aware(datetime.combine(parsed + timedelta(days=1 if end else 0), time.min))
        return moment

    filters = trail.TrailFilter(
        registry_number=raw["registry_number"].upper(),
        username=raw["user"],
        since=day(raw["since"]) if raw["since"] else None,
        until=day(raw["until"], end=True) if raw["until"] else None,
    )
    return filters, raw


def _require_auditor(request: HttpRequest) -> None:
    if not trail.can_audit(request.user):
        raise PermissionDenied("Only auditors, clinic leads and administrators can read the audit trail.")


@login_required
@require_safe
def audit_trail(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    filters, raw = _filters(request)
    events = trail.recent_events(request.user, filters, limit=100)
    query = urlencode({k: v for k, v in raw.items() if v})
    return render(request, "audit/trail.html", {"events": events, "raw": raw, "query": query})


@login_required
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    _require_auditor(request)
    filters, _ = _filters(request)
    response = StreamingHttpResponse(
        trail.csv_lines(trail.all_events(request.user, filters), bom=downloads.wants_bom(request.GET)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response

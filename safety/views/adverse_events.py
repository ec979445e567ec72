"""Adverse-event pages: the list (serious first), recording (directly or from a flag), the event with its audit
trail, its SUSAR clock and regulatory reports, correction with a reason, and the CIOMS I case report. Events are
reached through safety.selectors (registry.scoping: outside the user's clinics, 404); writing needs a writing role
there (auditors: 403)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from registry.forms import service_errors_onto
from registry.scoping import clinics_for, get_for_user_or_404, patients_for
from safety import selectors, services
from safety.exports import pdf_export
from safety.exports.service import export_log_record
from safety.forms import AdverseEventCorrectForm, AdverseEventForm, EventListFilterForm, RegulatoryReportForm
from safety.models import AdverseEvent
from safety.selectors import EventFilters, flags_for

PAGE_SIZE = 50


def _event(request, pk: int, *, write: bool = False) -> AdverseEvent:
    event = get_for_user_or_404(
        selectors.events_for(request.user).select_related(
            "patient", "clinic", "index_injection", "recorded_by", "assessed_by", "flag"
        ),
        pk=pk,
    )
    if write and not selectors.events_for(request.user, write=True).filter(pk=event.pk).exists():
        raise PermissionDenied("Your role in this clinic can read adverse events but not change them.")
    return event


@login_required
@require_safe
def event_list(request: HttpRequest) -> HttpResponse:
    form = EventListFilterForm(request.GET or None, clinics=clinics_for(request.user))
    filters = form.filters() if form.is_bound and form.is_valid() else EventFilters()
    events = selectors.events_list(request.user, filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "safety/events/event_list.html",
        {
            "form": form,
            "page": page,
            "filter_query": query.urlencode(),
            "can_record": clinics_for(request.user, write=True).exists(),
            "can_export": selectors.can_export(request.user),
        },
    )


def _unusual(request, unconfirmed: services.UnconfirmedEventWarnings | None, form) -> list[dict]:
    """Put each warning next to its field, and list them for the confirm checkboxes (as registry's injection
    form does for unusual protocol values)."""
    if unconfirmed is None:
        return []
    acknowledged = set(request.POST.getlist("acknowledged_warnings"))
    items = []
    for warning in unconfirmed.warnings:
        field = form.fields.get(warning.field)
        form.add_error(warning.field if field else None, warning.message)
        items.append(
            {
                "code": warning.code,
                "label": field.label if field else warning.field,
                "value": form[warning.field].data if field else "",
                "message": warning.message,
                "acknowledged": warning.code in acknowledged,
            }
        )
    return items


def _record_page(request, *, patient, flag=None) -> HttpResponse:
    injections = selectors.injections_choosable(request.user, patient)
    initial = {"source": services.default_source(flag)}
    if flag is not None:
        latest = flag.follow_up.plan.injections.order_by("-injected_on").values_list("pk", flat=True).first()
        initial["injections"] = [latest] if latest else []
        initial["onset_on"] = flag.submission.submitted_at.date() if flag.submission.submitted_at else None
    form = AdverseEventForm(request.POST or None, injections=injections, initial=initial)
    status = 200
    unconfirmed = None
    if request.method == "POST":
        if form.is_valid():
            acknowledged = request.POST.getlist("acknowledged_warnings")
            try:
                data = {"patient": patient, **form.event_data()}
                if flag is not None:
                    event = services.flag_record_event(
                        flag=flag, by=request.user, data=data, acknowledged_warnings=acknowledged
                    )
                else:
                    event = services.adverse_event_record(
                        by=request.user, data=data, acknowledged_warnings=acknowledged
                    )
            except services.UnconfirmedEventWarnings as warnings:
                unconfirmed = warnings
            except ValidationError as error:
                service_errors_onto(error, form=form, others={})
            else:
                messages.success(
                    request,
                    "Adverse event recorded."
                    + (" It is serious: the clinic lead is being emailed." if event.is_serious else ""),
                )
                return redirect("safety:event-detail", pk=event.pk)
        status = 400
    return render(
        request,
        "safety/events/event_form.html",
        {
            "form": form,
            "patient": patient,
            "flag": flag,
            "title": "Record an adverse event",
            "unusual": _unusual(request, unconfirmed, form),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def event_new(request: HttpRequest) -> HttpResponse:
    number = request.GET.get("patient", "")
    if not number:
        raise Http404("Open this page from a patient (…/adverse-events/new/?patient=KR-…).")
    patient = get_for_user_or_404(patients_for(request.user), registry_number=number)
    if not patients_for(request.user, write=True).filter(pk=patient.pk).exists():
        raise PermissionDenied("Your role in this clinic cannot record adverse events.")
    return _record_page(request, patient=patient)


@login_required
@require_http_methods(["GET", "POST"])
def flag_record_event(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_for_user_or_404(
        flags_for(request.user).select_related("patient", "follow_up__plan", "submission"), pk=pk
    )
    if not flags_for(request.user, write=True).filter(pk=flag.pk).exists():
        raise PermissionDenied("Your role in this clinic cannot record adverse events.")
    if not flag.is_active:
        messages.error(request, f"This flag is already {flag.get_status_display().lower()}.")
        return redirect("safety:flag-detail", pk=flag.pk)
    return _record_page(request, patient=flag.patient, flag=flag)


@login_required
@require_safe
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    return render(
        request,
        "safety/events/event_detail.html",
        {
            "event": event,
            "injections": event.injections.select_related("plan").order_by("injected_on"),
            "trail": selectors.event_trail(event),
            "can_correct": selectors.events_for(request.user, write=True).filter(pk=event.pk).exists(),
            "susar": selectors.susar_status(event),
            "reports": event.regulatory_reports.select_related("submitted_by"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def event_report_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a report made to a sponsor or regulator (auditors read reports but cannot add them: 403)."""
    event = _event(request, pk, write=True)
    form = RegulatoryReportForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                report = services.regulatory_report_record(event=event, by=request.user, data=form.report_data())
            except ValidationError as error:
                service_errors_onto(error, form=form, others={})
            else:
                messages.success(request, f"Recorded: {report}, reference {report.reference}.")
                return redirect("safety:event-detail", pk=event.pk)
    return render(
        request,
        "safety/events/report_form.html",
        {"form": form, "event": event, "susar": selectors.susar_status(event)},
        status=status,
    )


def _initial(event: AdverseEvent) -> dict:
    initial = {name: getattr(event, name) for name in services.EVENT_FIELDS}
    initial["injections"] = list(event.injections.values_list("pk", flat=True))
    initial["version"] = event.version
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def event_correct(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk, write=True)
    injections = selectors.injections_choosable(request.user, event.patient)
    form = AdverseEventCorrectForm(request.POST or None, injections=injections, initial=_initial(event))
    status = 200
    unconfirmed = None
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.event_data()
            try:
                event = services.adverse_event_correct(
                    event=event,
                    by=request.user,
                    data=data,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                    acknowledged_warnings=request.POST.getlist("acknowledged_warnings"),
                )
            except services.VersionConflict as conflict:
                form.add_error(None, str(conflict))
                status = 409
            except services.UnconfirmedEventWarnings as warnings:
                unconfirmed = warnings
            except ValidationError as error:
                service_errors_onto(error, form=form, others={})
            else:
                messages.success(request, "Correction saved.")
                return redirect("safety:event-detail", pk=event.pk)
    return render(
        request,
        "safety/events/event_form.html",
        {
            "form": form,
            "patient": event.patient,
            "event": event,
            "title": f"Correct adverse event #{event.pk}",
            "unusual": _unusual(request, unconfirmed, form),
        },
        status=status,
    )


@login_required
@require_GET
def event_cioms(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    pdf = pdf_export.cioms_pdf(event)
    export_log_record(
        user=request.user,
        format="cioms",
        filters=EventFilters(clinic_ids=[event.clinic_id], registry_number=event.patient.registry_number),
        row_count=1,
        clinic_ids=[event.clinic_id],
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="cioms-ae-{event.pk}.pdf"'
    return response

"""Consultation pages. Every object is reached through consultations.selectors / registry.scoping (outside the
user's clinics: 404), every write through consultations.services (auditors: 403), and a service's ValidationError
is shown next to the field it names."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from consultations import services
from consultations.forms import ConsultationEditForm, ConsultationForm
from consultations.models import Consultation
from consultations.selectors import consultation_expectation, consultations_for, decisions_by_kl_grade
from registry.choices import Pathology
from registry.forms import service_errors_onto
from registry.models import Patient
from registry.scoping import get_for_user_or_404, patients_for

PAGE_SIZE = 25
READ_ONLY = "Your role in this clinic can read consultations but not record or change them."


def _patient(request, registry_number: str) -> Patient:
    patient = get_for_user_or_404(patients_for(request.user).select_related("clinic"), registry_number=registry_number)
    if not patients_for(request.user, write=True).filter(pk=patient.pk).exists():
        raise PermissionDenied(READ_ONLY)
    return patient


def _consultation(request, pk: int, *, write: bool = False) -> Consultation:
    consultation = get_for_user_or_404(
        consultations_for(request.user).select_related("patient__clinic", "clinician", "injection"), pk=pk
    )
    if write and not consultations_for(request.user, write=True).filter(pk=consultation.pk).exists():
        raise PermissionDenied(READ_ONLY)
    return consultation


def error_summary(form) -> list[dict]:
    summary = [{"message": m, "anchor": ""} for m in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__" and name in form.fields:
            summary += [{"message": f"{form[name].label}: {m}", "anchor": form[name].auto_id} for m in errors]
    return summary


def _unusual(request, warnings: services.UnconfirmedWarnings, form) -> list[dict]:
    """Unusual selection factors: the warning beside its field, and a checkbox to confirm each."""
    acknowledged = set(request.POST.getlist("acknowledged_warnings"))
    items = []
    for warning in warnings.warnings:
        if warning.field in form.fields:
            form.add_error(warning.field, warning.message)
        items.append(
            {
                "code": warning.code,
                "label": form.fields[warning.field].label if warning.field in form.fields else warning.field,
                "value": form[warning.field].data if warning.field in form.fields else "",
                "acknowledged": warning.code in acknowledged,
            }
        )
    return items


def _form_page(request, *, form, patient, consultation=None, unusual=()) -> HttpResponse:
    return render(
        request,
        "consultations/consultation_form.html",
        {
            "form": form,
            "patient": patient,
            "consultation": consultation,
            "errors": error_summary(form) if request.method == "POST" else [],
            "unusual": unusual,
        },
    )


@login_required
@require_safe
def consultation_list(request: HttpRequest) -> HttpResponse:
    consultations = (
        consultations_for(request.user).select_related("patient", "clinician").order_by("-consulted_on", "-id")
    )
    page = Paginator(consultations, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "consultations/consultation_list.html",
        {"page": page, "decisions": decisions_by_kl_grade(request.user)},
    )


@login_required
def consultation_new(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = _patient(request, registry_number)
    form = ConsultationForm(
        request.POST if request.method == "POST" else None, clinic=patient.clinic, user=request.user
    )
    unusual = []
    if request.method == "POST" and form.is_valid():
        try:
            consultation = services.consultation_record(
                patient=patient,
                by=request.user,
                data=form.consultation_data(),
                acknowledged_warnings=request.POST.getlist("acknowledged_warnings"),
            )
        except services.UnconfirmedWarnings as warnings:
            unusual = _unusual(request, warnings, form)
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, f"Recorded the {consultation}.")
            return redirect("consultations:consultation-detail", pk=consultation.pk)
    return _form_page(request, form=form, patient=patient, unusual=unusual)


@login_required
def consultation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _consultation(request, pk, write=True)
    patient = consultation.patient
    initial = {name: getattr(consultation, name) for name in services.CONSULTATION_FIELDS}
    initial["clinician"] = consultation.clinician_id
    form = ConsultationEditForm(
        request.POST if request.method == "POST" else None, initial=initial, clinic=patient.clinic, user=request.user
    )
    unusual = []
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_update(
                consultation=consultation,
                by=request.user,
                data=form.consultation_data(),
                reason=form.cleaned_data["reason"],
                acknowledged_warnings=request.POST.getlist("acknowledged_warnings"),
            )
        except services.UnconfirmedWarnings as warnings:
            unusual = _unusual(request, warnings, form)
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, "Consultation record updated.")
            return redirect("consultations:consultation-detail", pk=consultation.pk)
    return _form_page(request, form=form, patient=patient, consultation=consultation, unusual=unusual)


def _sentence_case(label: str) -> str:
    return label[:1].upper() + label[1:]  # "Kellgren-Lawrence grade", not str.capitalize()'s "Kellgren-lawrence"


def _history(consultation: Consultation) -> list[dict]:
    records = list(consultation.history.select_related("history_user").order_by("history_date", "history_id"))
    trail = []
    for previous, record in zip([None, *records], records, strict=False):
        changed = []
        if previous is not None:
            changed = [
                _sentence_case(str(Consultation._meta.get_field(c.field).verbose_name))
                for c in record.diff_against(previous).changes
            ]
        trail.append({"record": record, "reason": record.history_change_reason or "", "changed": changed})
    return list(reversed(trail))


@login_required
@require_safe
def consultation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _consultation(request, pk)
    may_write = consultations_for(request.user, write=True).filter(pk=consultation.pk).exists()
    record_injection_url = None
    if may_write and consultation.is_proceeding and consultation.injection_id is None:
        record_injection_url = (
            reverse("registry:injection-new", kwargs={"registry_number": consultation.patient.registry_number})
            + "?"
            + urlencode({"consultation": consultation.pk})
        )
    return render(
        request,
        "consultations/consultation_detail.html",
        {
            "consultation": consultation,
            "patient": consultation.patient,
            "may_write": may_write,
            "record_injection_url": record_injection_url,
            "trail": _history(consultation),
            "expectation": consultation_expectation(consultation, request.user),
            "indications": consultation.labels("indications"),
            "reasons_against": consultation.labels("reasons_against"),
            "alternatives": consultation.labels("alternatives_discussed"),
            "previous_treatments": consultation.labels("previous_treatments"),
            "fallback_offer": consultation.labels("fallback_offer"),
            "pathology": [label for code, label in Pathology.choices if code in (consultation.pathology or [])],
        },
    )

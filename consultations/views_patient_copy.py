"""The patient's copy of a consultation (issue 16).

Staff (signed in): give the patient a copy (a no-login link shown once), revoke it, download the PDF, and edit the
clinic's own words on it. Objects are reached through consultations.selectors (outside the user's clinics: 404);
writes go through consultations.services (auditors: 403).

The patient (no login) at /copy/<token>/ and its PDF: the token is the key, as on the questionnaire's /q/ pages
(outcomes.views_questionnaire): private headers on every response, unknown tokens counted against the address
(outcomes.ratelimit, its own bucket), and one status code per link state with nothing about anyone on the page.
"""

import re
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET, require_POST

from consultations import services
from consultations.forms import DecisionAidTextForm
from consultations.models import Consultation, DecisionAidText
from consultations.patient_copy import DEFAULT_WITHOUT_INJECTION, long_date, patient_copy
from consultations.pdf import patient_copy_pdf
from consultations.selectors import consultations_for
from consultations.services import CopyLinkState
from consultations.views import error_summary
from outcomes import ratelimit
from outcomes.views_questionnaire import private
from registry.forms import service_errors_onto
from registry.i18n import LANGUAGE_PARAMETER, language_switch, patient_language, supported
from registry.scoping import clinics_for, get_for_user_or_404

READ_ONLY = "Your role in this clinic can read consultations but not give patients a copy."
RATE_BUCKET = "copy-link"
# Expired and revoked 410: the copy existed and is gone for good. Unknown 404: nothing is there.
STATE_STATUS = {CopyLinkState.INVALID: 404, CopyLinkState.EXPIRED: 410, CopyLinkState.REVOKED: 410}


def _consultation(request, pk: int, *, write: bool = False) -> Consultation:
    consultation = get_for_user_or_404(consultations_for(request.user).select_related("patient__clinic"), pk=pk)
    if write and not consultations_for(request.user, write=True).filter(pk=consultation.pk).exists():
        raise PermissionDenied(READ_ONLY)
    return consultation


def _pdf_response(copy: dict, consultation: Consultation, language: str) -> HttpResponse:
    """The PDF of a copy built in `language` (the patient's), laid out in that language too."""
    with translation.override(language):
        response = HttpResponse(patient_copy_pdf(copy), content_type="application/pdf")
    response["Content-Language"] = language
    name = f"knee-consultation-{consultation.consulted_on:%Y-%m-%d}.pdf"  # the date only: nothing that names anyone
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- Staff -----------------------------------------------------------------------------------------------------


@login_required
@require_POST
def patient_copy_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a link and show it once: the token is in this response only (never stored, so never shown again)."""
    consultation = _consultation(request, pk, write=True)
    issued = services.patient_copy_issue(consultation=consultation, by=request.user)
    url = request.build_absolute_uri(reverse("patient-copy:page", args=[issued.token]))
    return render(
        request,
        "consultations/patient_copy_issued.html",
        {"consultation": consultation, "patient": consultation.patient, "link": issued.link, "url": url},
    )


@login_required
@require_POST
def patient_copy_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _consultation(request, pk, write=True)
    if services.patient_copy_revoke(consultation=consultation, by=request.user):
        messages.success(request, "The patient's link no longer works. Give them a new copy if they need one.")
    else:
        messages.info(request, "There was no working link to revoke.")
    return redirect(reverse("consultations:consultation-detail", args=[consultation.pk]) + "#patient-copy")


@login_required
@require_GET  # a download: a HEAD would build the PDF for nothing
def patient_copy_staff_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The same PDF the patient downloads, for staff to print in clinic."""
    consultation = _consultation(request, pk)
    language = consultation.patient.language  # the patient's copy: in their language, whoever prints it
    with translation.override(language):
        copy = patient_copy(consultation)
    return _pdf_response(copy, consultation, language)


def _back_to(path: str) -> str:
    """The consultation page the editor came from, or "" (an address elsewhere is never followed or linked)."""
    return path if re.fullmatch(r"/consultations/[\w/-]*", path or "") else ""


@login_required
def decision_aid_text_edit(request: HttpRequest, clinic_id: int) -> HttpResponse:
    """The clinic's own words on every patient's copy: the course without an injection and the references."""
    clinic = get_for_user_or_404(clinics_for(request.user), pk=clinic_id)
    if not clinics_for(request.user, write=True).filter(pk=clinic.pk).exists():
        raise PermissionDenied("Your role in this clinic can read the text for patients but not change it.")
    text = DecisionAidText.objects.filter(clinic=clinic).first()
    form = DecisionAidTextForm(request.POST if request.method == "POST" else None, instance=text)
    if request.method == "POST" and form.is_valid():
        try:
            services.decision_aid_text_save(
                clinic=clinic, by=request.user, data={k: form.cleaned_data[k] for k in services.DECISION_AID_FIELDS}
            )
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, f"Saved the text for patients of {clinic.name}.")
            back = _back_to(request.POST.get("next", ""))
            return redirect(back or reverse("consultations:decision-aid-text", kwargs={"clinic_id": clinic.pk}))
    return render(
        request,
        "consultations/decision_aid_text_form.html",
        {
            "clinic": clinic,
            "form": form,
            "text": text,
            "default_without_injection": DEFAULT_WITHOUT_INJECTION,
            "next": _back_to(request.GET.get("next", request.POST.get("next", ""))),
            "errors": error_summary(form) if request.method == "POST" else [],
        },
    )


# --- The patient -----------------------------------------------------------------------------------------------


def _state_page(
    request: HttpRequest, state: str, *, status: int | None = None, patient=None, **context
) -> HttpResponse:
    """A link state's page, in the patient's language when the link names one (else the browser's)."""
    with patient_language(request, patient) as language:
        response = render(
            request,
            "consultations/patient_copy_state.html",
            {"state": state, **context},
            status=status or STATE_STATUS[state],
        )
    response["Content-Language"] = language
    return response


def with_copy_link(view):
    """Resolve the token (rate limited as the questionnaire's are) and hand the view a consultation whose link
    works; every other state gets its own page, with no data."""

    @wraps(view)
    def wrapper(request, token: str):
        if ratelimit.is_blocked(request, bucket=RATE_BUCKET):
            limit = ratelimit.link_limit()
            response = _state_page(request, "rate_limited", status=429, minutes=max(1, -(-limit.window_seconds // 60)))
            response["Retry-After"] = str(limit.window_seconds)
            return response
        resolved = services.patient_copy_resolve(token)
        if resolved.state == CopyLinkState.INVALID:
            ratelimit.record_failure(request, bucket=RATE_BUCKET)
            return _state_page(request, resolved.state)
        if resolved.state != CopyLinkState.VALID:
            # The clinic's name and phone only, so the patient knows whom to ask for a new copy.
            patient = resolved.link.consultation.patient
            return _state_page(request, resolved.state, patient=patient, clinic=patient.clinic)
        return view(request, resolved.link)

    return wrapper


@private
@require_GET  # reading records when the copy was opened: a link preview's HEAD should not count
@with_copy_link
def patient_copy_page(request: HttpRequest, link) -> HttpResponse:
    services.patient_copy_mark_opened(link=link)
    chosen = supported(request.GET.get(LANGUAGE_PARAMETER))
    with patient_language(request, link.consultation.patient) as language:
        copy = patient_copy(link.consultation)
        expires_on = timezone.localtime(link.expires_at, copy["clinic"].tzinfo).date()
        response = render(
            request,
            "consultations/patient_copy.html",
            {
                "copy": copy,
                "clinic": copy["clinic"],
                "expires_on": long_date(expires_on),
                "languages": language_switch(language),
                # A language picked with the switch carries on to the PDF.
                "pdf_query": urlencode({LANGUAGE_PARAMETER: chosen}) if chosen else "",
            },
        )
    response["Content-Language"] = language
    return response


@private
@require_GET
@with_copy_link
def patient_copy_pdf_download(request: HttpRequest, link) -> HttpResponse:
    services.patient_copy_mark_opened(link=link)
    with patient_language(request, link.consultation.patient) as language:
        copy = patient_copy(link.consultation)
    return _pdf_response(copy, link.consultation, language)

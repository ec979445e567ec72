"""Staff pages for follow-ups: open a questionnaire on the clinic tablet, enter answers for a patient, and
amend a submission. Objects are reached through outcomes.selectors (scoped by registry.scoping: outside the
user's clinics 404), and only writing roles may act (auditors 403). The patient's own pages are in
views_questionnaire."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from outcomes import forms, selectors, services
from outcomes.further_treatments import further_treatment_record
from outcomes.models import FollowUp, FollowUpStatus, Submission, SubmissionSource, Timepoint
from outcomes.models.questionnaire import LinkChannel
from registry.scoping import get_for_user_or_404, patients_for, plans_for

READ_ONLY = "Your role in this clinic can read records but not change them."


def _follow_up(request, pk: int, *, write: bool = False) -> FollowUp:
    follow_up = get_for_user_or_404(
        selectors.follow_ups_for(request.user).select_related("plan", "patient", "clinic"), pk=pk
    )
    if write and not selectors.follow_ups_for(request.user, write=True).filter(pk=follow_up.pk).exists():
        raise PermissionDenied(READ_ONLY)
    return follow_up


def _submission(request, pk: int, *, write: bool = False) -> Submission:
    submission = get_for_user_or_404(
        selectors.submissions_for(request.user).select_related(
            "follow_up__plan", "follow_up__patient", "follow_up__clinic", "entered_by"
        ),
        pk=pk,
    )
    if write and not selectors.submissions_for(request.user, write=True).filter(pk=submission.pk).exists():
        raise PermissionDenied(READ_ONLY)
    return submission


def _patient_url(patient) -> str:
    return reverse("registry:patient-detail", args=[patient.registry_number]) + "#follow-ups"


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return {name: [str(m) for m in msgs] for name, msgs in exc.message_dict.items()}


@login_required
@require_POST
def follow_up_tablet(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand the patient the clinic tablet: a fresh clinic link, and straight to the questionnaire."""
    follow_up = _follow_up(request, pk, write=True)
    today = services.clinic_today(follow_up.clinic)
    if not follow_up.is_active or not follow_up.window_contains(today) or follow_up.patient.has_withdrawn:
        messages.error(request, "This questionnaire is not open today, so it cannot be opened on the tablet.")
        return redirect(_patient_url(follow_up.patient))
    token = services.link_create(follow_up=follow_up, channel=LinkChannel.CLINIC, by=request.user)
    return redirect("outcomes:questionnaire", token=token)


def _entry_context(follow_up, sections, errors, **extra):
    today = services.clinic_today(follow_up.clinic)
    return {
        "follow_up": follow_up,
        "patient": follow_up.patient,
        "sections": sections,
        "errors": errors,
        "stray_errors": forms.stray_errors(sections, errors),
        "late_baseline": follow_up.timepoint == Timepoint.BASELINE and today > follow_up.due_on,
        "outside_window": not follow_up.window_contains(today),
        "autosave": False,
        "local_save": False,
        **extra,
    }


def follow_up_enterable(follow_up: FollowUp, today) -> bool:
    """Staff may enter answers once the window has opened (late ones too: the chase list), never before it."""
    return follow_up.status not in (FollowUpStatus.COMPLETED, FollowUpStatus.CANCELLED) and today >= follow_up.opens_on


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def follow_up_enter(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff enter the answers on the patient's behalf (e.g. read out over the phone from the chase list)."""
    follow_up = _follow_up(request, pk, write=True)
    if not follow_up_enterable(follow_up, services.clinic_today(follow_up.clinic)):
        if follow_up.status in (FollowUpStatus.COMPLETED, FollowUpStatus.CANCELLED):
            messages.info(request, f"This follow-up is {follow_up.get_status_display().lower()}; nothing to enter.")
        else:
            messages.error(
                request,
                f"This questionnaire opens on {follow_up.opens_on:%d %b %Y}; answers before then "
                "would not belong to this timepoint.",
            )
        return redirect(_patient_url(follow_up.patient))
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = forms.values_from_post(request.POST)
        try:
            services.questionnaire_submit(
                follow_up=follow_up,
                data=request.POST,
                source=SubmissionSource.STAFF_ENTERED,
                entered_by=request.user,
            )
        except ValidationError as exc:
            errors, status = _errors(exc), 400
        except services.AlreadySubmitted:
            messages.info(request, "Answers for this follow-up were already submitted.")
            return redirect(_patient_url(follow_up.patient))
        except services.NotOpen as exc:
            messages.error(request, str(exc))
            return redirect(_patient_url(follow_up.patient))
        else:
            messages.success(request, f"{follow_up.get_timepoint_display()} answers saved.")
            return redirect(_patient_url(follow_up.patient))
    sections = forms.build_sections(follow_up, values, errors)
    context = _entry_context(follow_up, sections, errors, submit_label="Save answers")
    return render(request, "outcomes/follow_up_enter.html", context, status=status)


def _amendment_rows(submission: Submission) -> list[dict]:
    return [
        {
            "amendment": a,
            "answers": forms.values_from_answers(a.answers_after),
            "display": forms.display_answers(a.answers_after),
        }
        for a in submission.amendments.select_related("amended_by").order_by("amended_at", "id")
    ]


def _submission_page(request, submission, *, write, sections=None, reason_form=None, errors=None, status=200):
    amendments = _amendment_rows(submission)
    original = forms.values_from_answers(submission.answers)
    current = amendments[-1]["answers"] if amendments else original
    compare = forms.build_sections(submission.follow_up, original, versions=submission.instrument_versions)
    context = {
        "submission": submission,
        "follow_up": submission.follow_up,
        "patient": submission.follow_up.patient,
        "compare": compare,
        "original_display": forms.display_answers(submission.answers),
        "amendments": amendments,
        "write": write,
        "may_amend": write or selectors.submissions_for(request.user, write=True).filter(pk=submission.pk).exists(),
        "scores": selectors.current_scores(submission),
    }
    if write:
        sections = sections or forms.build_sections(
            submission.follow_up, current, versions=submission.instrument_versions
        )
        context.update(
            sections=sections,
            errors=errors or {},
            stray_errors=forms.stray_errors(sections, errors or {}),
            reason_form=reason_form or forms.AmendReasonForm(),
            autosave=False,
            local_save=False,
            submit_label="Save correction",
        )
    return render(request, "outcomes/submission.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The original answers beside every amendment (readable by auditors)."""
    submission = _submission(request, pk)
    return _submission_page(request, submission, write=False)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def submission_amend(request: HttpRequest, pk: int) -> HttpResponse:
    """A clinician's correction with a reason; the original stays as it was."""
    submission = _submission(request, pk, write=True)
    if request.method != "POST":
        return _submission_page(request, submission, write=True)
    reason_form = forms.AmendReasonForm(request.POST)
    values = forms.values_from_post(request.POST)
    errors: dict[str, list[str]] = {}
    if reason_form.is_valid():
        try:
            services.submission_amend(
                submission=submission, by=request.user, data=request.POST, reason=reason_form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            errors = _errors(exc)
            for message in errors.pop("reason", []):
                reason_form.add_error("reason", message)
        else:
            messages.success(request, "Correction saved beside the original answers.")
            return redirect("outcomes:submission-detail", pk=submission.pk)
    sections = forms.build_sections(submission.follow_up, values, errors, versions=submission.instrument_versions)
    return _submission_page(
        request, submission, write=True, sections=sections, reason_form=reason_form, errors=errors, status=400
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def further_treatment_new(request: HttpRequest, registry_number: str) -> HttpResponse:
    """Record a further treatment of one of the patient's knees. The same knee, kind and month already reported
    by the patient becomes one event with both sources (outcomes.further_treatments)."""
    patient = get_for_user_or_404(patients_for(request.user).select_related("clinic"), registry_number=registry_number)
    plans = plans_for(request.user, write=True).filter(patient=patient)
    if not patients_for(request.user, write=True).filter(pk=patient.pk).exists():
        raise PermissionDenied(READ_ONLY)
    form = forms.FurtherTreatmentForm(request.POST or None, plans=plans)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                event = further_treatment_record(
                    plan=data["plan"],
                    kind=data["kind"],
                    month=data["month"],
                    day=data["day"],
                    note=data["note"],
                    by=request.user,
                    on=services.clinic_today(patient.clinic),
                )
            except ValidationError as exc:
                for field, messages_ in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages_)
            else:
                messages.success(request, f"Recorded: {event}. Sources: {event.sources.lower()}.")
                return redirect(reverse("registry:patient-detail", args=[patient.registry_number]) + "#further")
        status = 400
    return render(request, "outcomes/further_treatment_new.html", {"patient": patient, "form": form}, status=status)

"""A clinic's reminder settings: its lead changes them; its clinicians and auditors read them; anyone else gets a 404
(registry.scoping), as for the clinic's reminder comparisons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from outcomes import reminder_settings
from outcomes.forms import ReminderSettingsForm
from registry.scoping import clinics_for, get_for_user_or_404


def _initial(current: reminder_settings.ReminderSettings) -> dict:
    return {
        "text_reminders": current.text_reminders,
        "text_reminder_days": ", ".join(str(day) for day in current.text_reminder_days),
        "show_own_scores": current.show_own_scores,
        "daily_email_cap": current.daily_email_cap,
        "daily_text_cap": current.daily_text_cap,
        "version": current.version,
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def reminder_settings_page(request: HttpRequest, clinic_id: int) -> HttpResponse:
    clinic = get_for_user_or_404(clinics_for(request.user), pk=clinic_id)
    may_change = reminder_settings.may_change(request.user, clinic)
    if request.method == "POST" and not may_change:
        raise PermissionDenied("Only the clinic lead changes its reminder settings.")
    current = reminder_settings.settings_of(clinic)
    form = None
    if may_change:
        form = ReminderSettingsForm(request.POST if request.method == "POST" else None, initial=_initial(current))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            reminder_settings.reminder_settings_change(
                clinic=clinic,
                by=request.user,
                version=data["version"],
                text_reminders=data["text_reminders"],
                text_reminder_days=data["text_reminder_days"],
                show_own_scores=data["show_own_scores"],
                daily_email_cap=data["daily_email_cap"],
                daily_text_cap=data["daily_text_cap"],
                reason=data["reason"],
            )
        except ValidationError as error:
            if getattr(error, "code", None) == "stale":
                # Show what the other lead saved, and keep the lead's reason for another try.
                form = ReminderSettingsForm(initial=_initial(current) | {"reason": data["reason"]})
                stale = error.messages[0]
                return _render(request, clinic, current, form, status=409, problem=stale)
            _add_errors(form, error)
        else:
            messages.success(request, "The reminder settings are saved.")
            return redirect("outcomes:reminder-settings", clinic_id=clinic.pk)
    status = 400 if form is not None and form.errors else 200
    return _render(request, clinic, current, form, status=status)


def _add_errors(form: ReminderSettingsForm, error: ValidationError) -> None:
    """The service's errors beside the fields they are about; any other in the summary."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _render(request, clinic, current, form, *, status: int, problem: str = "") -> HttpResponse:
    context = {
        "clinic": clinic,
        "current": current,
        "form": form,
        "problem": problem,
        "changes": reminder_settings.recent_changes(clinic),
    }
    return render(request, "outcomes/reminder_settings.html", context, status=status)

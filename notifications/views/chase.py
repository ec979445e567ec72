"""The chase list: open follow-ups the emails did not bring in, for staff to phone, fastest-closing first."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from notifications import services
from notifications.models import CallOutcome
from notifications.selectors import chase_list_for, days_left
from outcomes.models import FollowUp
from registry.scoping import clinics_for, get_for_user_or_404

PAGE_SIZE = 50


def staff_entry_url(follow_up_id: int) -> str:
    # The questionnaire's staff-entry page belongs to outcomes; fall back to its agreed path until it exists.
    for name in ("outcomes:staff-entry", "outcomes:follow-up-enter"):
        try:
            return reverse(name, args=[follow_up_id])
        except NoReverseMatch:
            continue
    return f"/follow-ups/{follow_up_id}/enter/"


@login_required
@require_safe
def chase_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    page = Paginator(chase_list_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    writable = set(clinics_for(request.user, write=True).values_list("id", flat=True))
    rows = [
        {
            "follow_up": follow_up,
            "days_left": days_left(follow_up, now),
            "may_write": follow_up.clinic_id in writable,
            "enter_url": staff_entry_url(follow_up.pk),
            "last_call_label": CallOutcome(follow_up.last_call_outcome).label if follow_up.last_call_outcome else "",
        }
        for follow_up in page
    ]
    return render(
        request,
        "notifications/chase_list.html",
        {"page": page, "rows": rows, "outcomes": CallOutcome.choices},
    )


@login_required
@require_POST
def call_attempt(request: HttpRequest, follow_up_id: int) -> HttpResponse:
    readable = FollowUp.objects.filter(clinic__in=clinics_for(request.user).values("id"))
    follow_up = get_for_user_or_404(readable.select_related("patient"), pk=follow_up_id)
    if not clinics_for(request.user, write=True).filter(pk=follow_up.clinic_id).exists():
        raise PermissionDenied("Your role in this clinic can read records but not change them.")
    try:
        attempt = services.call_attempt_record(
            follow_up=follow_up,
            by=request.user,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{follow_up.patient.registry_number}: {attempt.get_outcome_display()} recorded.")
    return redirect(f"{reverse('notifications:chase-list')}#fu-{follow_up.pk}")

"""The flag inbox and a flag's page. Flags are reached through safety.selectors (scoped by registry.scoping:
outside the user's clinics, 404); reviewing needs a writing role in the flag's clinic (auditors: 403)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe

from registry.forms import service_errors_onto
from registry.scoping import clinics_for, get_for_user_or_404
from safety import selectors, services
from safety.choices import FlagKind, FlagStatus
from safety.forms import DismissForm
from safety.models import Flag

PAGE_SIZE = 50
STATUS_FILTERS = ["active", *FlagStatus.values, "all"]


def _flag(request, pk: int, *, write: bool = False) -> Flag:
    flag = get_for_user_or_404(
        selectors.flags_for(request.user).select_related(
            "patient", "clinic", "follow_up__plan", "submission", "reviewed_by"
        ),
        pk=pk,
    )
    if write and not selectors.flags_for(request.user, write=True).filter(pk=flag.pk).exists():
        raise PermissionDenied("Your role in this clinic can read flags but not review them.")
    return flag


@login_required
@require_safe
def flag_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "active")
    if status not in STATUS_FILTERS:
        status = "active"
    urgent = {"true": True, "false": False}.get(request.GET.get("urgent", ""))
    kind = request.GET.get("kind", FlagKind.SAFETY)
    if kind not in FlagKind.values:
        kind = FlagKind.SAFETY
    flags = selectors.flag_inbox(request.user, status=status, urgent=urgent, kind=kind)
    page = Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = {k: v for k, v in (("kind", kind), ("status", status), ("urgent", request.GET.get("urgent", ""))) if v}
    return render(
        request,
        "safety/flag_list.html",
        {
            "page": page,
            "status": status,
            "urgent": request.GET.get("urgent", ""),
            "status_choices": selectors.flags_for_status_filter(),
            "kind": kind,
            "kind_choices": FlagKind.choices,
            "filter_query": urlencode(filters),
            "failed_evaluations": list(selectors.evaluations_failed_for(request.user)[:20]),
            "has_clinics": clinics_for(request.user).exists(),
        },
    )


def _detail(request, flag: Flag, *, form: DismissForm | None = None, status: int = 200) -> HttpResponse:
    return render(
        request,
        "safety/flag_detail.html",
        {
            "flag": flag,
            "evidence": selectors.flag_evidence(flag),
            "can_review": selectors.flags_for(request.user, write=True).filter(pk=flag.pk).exists(),
            "dismiss_form": form or DismissForm(),
            "history": flag.history.select_related("history_user").order_by("-history_date", "-history_id"),
        },
        status=status,
    )


@login_required
@require_safe
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _flag(request, pk))


@login_required
@require_POST
def flag_start_review(request: HttpRequest, pk: int) -> HttpResponse:
    flag = _flag(request, pk, write=True)
    try:
        services.flag_start_review(flag=flag, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "You are reviewing this flag.")
    return redirect("safety:flag-detail", pk=flag.pk)


@login_required
@require_POST
def flag_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    flag = _flag(request, pk, write=True)
    form = DismissForm(request.POST)
    if form.is_valid():
        try:
            services.flag_dismiss(flag=flag, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, "Flag dismissed.")
            return redirect("safety:flag-list")
    return _detail(request, flag, form=form, status=400)

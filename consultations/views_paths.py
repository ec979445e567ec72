"""Fallback paths (issue 16): a page of counts for the staff who may see the outcomes dashboard, over the same
cohort and with the same filters (clinic, period of the first injection). Exact numbers, as on the dashboard:
each describes knees its reader may open one by one; nothing on the page is offered as a download."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from consultations import paths
from consultations.choices import FallbackOffer, PathTaken, ReviewFinding
from outcomes.analysis import disclosure, plan_outcomes
from outcomes.analysis.summary import filterset_for
from outcomes.thresholds import get_thresholds

# The dashboard's filters this page offers (the others narrow the cohort too, if given in the address).
FILTERS = ("clinic", "injected_after", "injected_before")


@login_required
@require_safe
def fallback_paths(request: HttpRequest) -> HttpResponse:
    filterset, clinics = filterset_for(request.user, request.GET)
    context = {
        "fields": [filterset.form[name] for name in FILTERS],
        "has_clinics": bool(clinics),
        "min_group_size": disclosure.minimum(),
        "findings": ReviewFinding.choices,
        "offers": FallbackOffer.choices,
        "paths_taken": PathTaken.choices,
    }
    if not filterset.is_valid():
        return render(request, "consultations/paths.html", {**context, "valid": False}, status=400)
    plan_outcomes.refresh()  # plans changed since their summary row was built (usually none)
    thresholds = get_thresholds()
    return render(
        request,
        "consultations/paths.html",
        {
            **context,
            "valid": True,
            "filtered": bool(filterset.active()),
            "rows": paths.fallback_paths(filterset.qs),
            "repeats": paths.repeat_outcomes(filterset.qs),
            "mcid": {label: thresholds[f"mcid.{name}"].value for name, _column, label in paths.MEASURES},
        },
    )

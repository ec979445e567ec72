"""Fallback paths (issue 16): a page of counts for the staff who may see the outcomes dashboard, over the same
cohort and with the same filters (clinic, period of the first injection). Exact numbers on the page, as on the
dashboard: each describes knees its reader may open one by one. The CSV download is protected as the dashboard's
downloads are (outcomes.analysis.disclosure) and, like them, takes no filters: files of different filters could be
subtracted from one another."""

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_safe

from consultations import paths
from consultations.choices import FallbackOffer, PathTaken, ReviewFinding
from outcomes.analysis import disclosure, plan_outcomes
from outcomes.analysis.cohort import cohort
from outcomes.analysis.summary import filterset_for
from outcomes.thresholds import get_thresholds
from registry import downloads

# The dashboard's filters this page offers (the others narrow the cohort too, if given in the address).
FILTERS = ("clinic", "injected_after", "injected_before")


@login_required
@require_safe
def fallback_paths(request: HttpRequest) -> HttpResponse:
    filterset, _clinics = filterset_for(request.user, request.GET)
    context = {
        "fields": [filterset.form[name] for name in FILTERS],
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
            "csv_url": "" if filterset.active() else reverse("consultations:fallback-paths-csv"),
            "rows": paths.fallback_paths(filterset.qs),
            "repeats": paths.repeat_outcomes(filterset.qs),
            "mcid": {label: thresholds[f"mcid.{name}"].value for name, _column, label in paths.MEASURES},
        },
    )


@login_required
@require_GET  # not HEAD: it would build the file and log an export for no file
def fallback_paths_csv(request: HttpRequest) -> HttpResponse:
    extra = sorted(set(request.GET) - {"encoding"})
    if extra:
        message = f"{', '.join(extra)}: downloads take no filters (they describe all your clinics' courses)."
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    plan_outcomes.refresh()
    plans, k = cohort(request.user), disclosure.minimum()
    reviews, repeats = paths.released(paths.fallback_paths(plans), paths.repeat_outcomes(plans), k=k)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["# Fallback paths: reviews by product of the course and KL band, and outcomes after a repeat course"]
    )
    writer.writerow([f"# Numbers describing fewer than {k} knees, and numbers that would give one away, are empty."])
    writer.writerow([f"# All your clinics' courses. As of {timezone.localdate().isoformat()}."])
    writer.writerow(paths.CSV_PATH_COLUMNS)
    writer.writerows([row[c] for c in paths.CSV_PATH_COLUMNS] for row in reviews)
    writer.writerow([])
    writer.writerow(paths.CSV_REPEAT_COLUMNS)
    writer.writerows([row[c] for c in paths.CSV_REPEAT_COLUMNS] for row in repeats)
    text = (downloads.BOM if downloads.wants_bom(request.GET) else "") + buffer.getvalue()
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fallback-paths-{timezone.localdate().isoformat()}.csv"'
    return response

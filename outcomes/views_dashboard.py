"""The outcomes dashboard, its CSV tables and a patient's trajectory. Thin: the numbers come from
outcomes.analysis, the visibility from registry.scoping."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_safe

from outcomes.analysis import disclosure, survival, tables
from outcomes.analysis.adjusted import NOTICE as OBSERVATIONAL_NOTICE
from outcomes.analysis.cohort import cohort
from outcomes.analysis.filters import COMPARE_BY_CHOICES
from outcomes.analysis.summary import (
    InvalidFilters,
    adjusted_summary,
    filterset_for,
    protected_summary,
    released_summary,
    summarise,
)
from outcomes.analysis.trajectory import patient_trajectory
from registry import downloads
from registry.choices import Product
from registry.scoping import get_for_user_or_404, patients_for

# Sections of the page, in order: (heading, table slugs shown in it, chart beside the first table or None).
SECTIONS = [
    ("Follow-up completion", ["completion", "funnel"], "funnel"),
    ("Scores", ["scores"], None),
    ("Change from baseline", ["change", "change_by_group"], "change"),
    ("Responders", ["responders", "responders_by_kl"], "responders"),
    ("Patient acceptable symptom state", ["pass"], None),
    (
        "Loss to follow-up",
        ["completion_by_clinic", "completion_by_clinician", "completion_by_product", "baseline_by_completion"],
        None,
    ),
    ("Adverse events", ["adverse_events"], None),
]


@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    filterset, clinics = filterset_for(request.user, request.GET)
    context = {
        "form": filterset.form,
        "min_group_size": tables.min_group_size(),
        "query": request.GET.urlencode(),
        "has_clinics": bool(clinics),
    }
    try:
        summary = disclosure.release(summarise(request.user, filterset, clinics), "page")
    except InvalidFilters:
        return render(request, "outcomes/dashboard.html", {**context, "summary": None}, status=400)
    # Exact numbers, each marked where a download would withhold it.
    built = tables.build(summary, withheld=protected_summary(request.user, filterset, clinics, exact=summary))
    filtered = bool(summary["filters"])
    csv_suffix = f"?compare_by={filterset.compare_by_value}"
    for table in built.values():
        table.csv_url = "" if filtered else reverse("outcomes:dashboard-csv", args=[table.slug]) + csv_suffix
    sections = [
        {"heading": heading, "tables": [built[slug] for slug in slugs], "chart": chart}
        for heading, slugs, chart in SECTIONS
    ]
    compare_by_label = dict(COMPARE_BY_CHOICES)[summary["compare_by"]]
    # Products compared: the raw changes above, and here the estimate adjusted for who received each product.
    adjusted = None
    if summary["compare_by"] == "product":
        adjusted = tables.adjusted_table(adjusted_summary(request.user, filterset, summary))
    return render(
        request,
        "outcomes/dashboard.html",
        {
            **context,
            "summary": summary,
            "sections": sections,
            "charts": tables.chart_data(summary),
            "compare_by_label": compare_by_label,
            "adjusted": adjusted,
            "observational_notice": OBSERVATIONAL_NOTICE,
            "filtered": filtered,
        },
    )


@login_required
@require_GET  # not HEAD: it would build the table and log an export for no file
def dashboard_csv(request: HttpRequest, table: str) -> HttpResponse:
    if table not in tables.BUILDERS:
        raise Http404
    try:
        summary = released_summary(request.user, request.GET, channel="csv")
    except InvalidFilters as exc:
        errors = "\n".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in exc.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    built = tables.BUILDERS[table](summary)
    text = (downloads.BOM if downloads.wants_bom(request.GET) else "") + tables.to_csv(built, summary)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="outcomes-{table}-{day}.csv"'
    return response


@login_required
@require_safe
def patient_trajectory_page(request: HttpRequest, registry_number: str) -> HttpResponse:
    patient = get_for_user_or_404(patients_for(request.user), registry_number=registry_number)
    return render(
        request,
        "outcomes/patient_trajectory.html",
        {"patient": patient, "trajectory": patient_trajectory(patient)},
    )


def _knee_replacement_curves(user) -> list[survival.ProductCurve]:
    return survival.by_product(cohort(user), minimum=disclosure.minimum(), labels=dict(Product.choices))


@login_required
@require_safe
def knee_replacement(request: HttpRequest) -> HttpResponse:
    """Time to knee replacement per product: Kaplan-Meier, with numbers at risk (outcomes.analysis.survival)."""
    curves = _knee_replacement_curves(request.user)
    return render(
        request,
        "outcomes/knee_replacement.html",
        {
            "curves": curves,
            "chart": survival.chart_data(curves),
            "grid_months": survival.GRID_MONTHS,
            "min_group_size": disclosure.minimum(),
            "as_of": timezone.localdate(),
        },
    )


@login_required
@require_GET  # not HEAD: it would build the table and log an export for no file
def knee_replacement_csv(request: HttpRequest) -> HttpResponse:
    minimum = disclosure.minimum()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["# Time to knee replacement (partial or total) from the first injection: Kaplan-Meier by product"])
    writer.writerow(
        [f"# Products with fewer than {minimum} plans, and months with 1 to {minimum - 1} still at risk, are withheld."]
    )
    writer.writerow([f"# All your clinics' plans. As of {timezone.localdate().isoformat()}. 95% CI: log(-log)."])
    writer.writerow(survival.CSV_COLUMNS)
    writer.writerows(survival.csv_rows(_knee_replacement_curves(request.user), minimum))
    text = (downloads.BOM if downloads.wants_bom(request.GET) else "") + buffer.getvalue()
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="knee-replacement-{timezone.localdate().isoformat()}.csv"'
    return response

"""Reminder comparisons: the clinic lead starts and stops them; clinicians, leads and auditors of the clinic read
the per-arm results; anyone else gets a 404 (registry.scoping)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from outcomes import reminders
from outcomes.analysis.comparison import comparison_results
from outcomes.forms import ComparisonStopForm, ReminderComparisonForm
from outcomes.models import ReminderComparison
from registry import downloads
from registry.choices import Role
from registry.models import Clinic
from registry.scoping import clinics_for, get_for_user_or_404, is_administrator


def _lead_clinics(user) -> QuerySet[Clinic]:
    if is_administrator(user):
        return Clinic.objects.none()  # administrators configure; the clinic's lead decides to run a comparison
    return Clinic.objects.filter(memberships__user=user, memberships__role=Role.LEAD).order_by("name")


def _comparisons(user) -> QuerySet[ReminderComparison]:
    return reminders.comparisons_for(user).select_related("clinic", "arm_a", "arm_b")


@login_required
@require_safe
def comparison_list(request: HttpRequest) -> HttpResponse:
    if not clinics_for(request.user).exists():
        raise PermissionDenied("Reminder comparisons are for staff of a clinic.")
    return render(
        request,
        "outcomes/comparison_list.html",
        {
            "comparisons": _comparisons(request.user),
            "may_start": _lead_clinics(request.user).exists(),
            # Where each clinic's reminder settings are: leads change them, the clinic's staff read them.
            "clinics": clinics_for(request.user).order_by("name"),
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def comparison_new(request: HttpRequest) -> HttpResponse:
    clinics = _lead_clinics(request.user)
    if not clinics.exists():
        raise PermissionDenied("Only a clinic lead starts a reminder comparison.")
    initial = {"starts_on": timezone.localdate()}
    data = request.POST if request.method == "POST" else None  # an empty POST is a submission, with errors
    form = ReminderComparisonForm(data, clinics=clinics, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            comparison = reminders.comparison_start(
                clinic=data["clinic"],
                by=request.user,
                question=data["question"],
                starts_on=data["starts_on"],
                arm_a=form.arm("a"),
                arm_b=form.arm("b"),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("outcomes:reminder-comparison", pk=comparison.pk)
    return render(request, "outcomes/comparison_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_safe
def comparison_detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_for_user_or_404(_comparisons(request.user), pk=pk)
    results = comparison_results(comparison, channel="page")
    may_stop = comparison.is_running and reminders.may_run_comparisons(request.user, comparison.clinic)
    return render(
        request,
        "outcomes/comparison_detail.html",
        {
            "comparison": comparison,
            "results": results,
            "may_stop": may_stop,
            "stop_form": ComparisonStopForm() if may_stop else None,
        },
    )


@login_required
@require_POST
def comparison_stop(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_for_user_or_404(_comparisons(request.user), pk=pk)
    if not reminders.may_run_comparisons(request.user, comparison.clinic):
        raise PermissionDenied("Only the clinic lead stops a reminder comparison.")
    form = ComparisonStopForm(request.POST)
    if form.is_valid():
        try:
            reminders.comparison_stop(comparison=comparison, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("outcomes:reminder-comparison", pk=comparison.pk)
    results = comparison_results(comparison, channel="page")
    context = {"comparison": comparison, "results": results, "may_stop": True, "stop_form": form}
    return render(request, "outcomes/comparison_detail.html", context, status=400)


CSV_COLUMNS = ["timepoint", "arm", "strategy", "completed", "due", "pct", "ci_low", "ci_high", "difference_a_minus_b"]


def _csv_lines(comparison: ReminderComparison, *, bom: bool) -> Iterator[str]:
    results = comparison_results(comparison, channel="csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"# Reminder comparison: {comparison.question}"])
    writer.writerow([f"# {results['note']}"])
    writer.writerow([f"# Counts from 1 to {results['minimum'] - 1}, and figures built on them, are withheld (blank)."])
    writer.writerow([f"# Completed / due (follow-ups not yet due left out), as of {results['today'].isoformat()}."])
    writer.writerow(CSV_COLUMNS)
    yield (downloads.BOM if bom else "") + buffer.getvalue()
    names = {arm["arm"]: arm["name"] for arm in results["arms"]}

    def number(value):
        return "" if value is None else (f"{value:.1f}" if isinstance(value, float) else value)

    for row in results["timepoints"]:
        difference = row["difference"]
        interval = (
            f"{difference['estimate']:.1f} ({difference['ci_low']:.1f} to {difference['ci_high']:.1f})"
            if difference["estimate"] is not None
            else ""
        )
        for arm, share in row["arms"].items():
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(
                [
                    row["timepoint"],
                    arm,
                    names[arm],
                    number(share["n"]),
                    number(share["N"]),
                    number(share["pct"]),
                    number(share["ci_low"]),
                    number(share["ci_high"]),
                    interval,
                ]
            )
            yield buffer.getvalue()


@login_required
@require_GET  # a HEAD would log an export that never happened
def comparison_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The per-arm table for auditors and the clinic's staff, protected like every download (the access log
    records it: audit.middleware)."""
    comparison = get_for_user_or_404(_comparisons(request.user), pk=pk)
    response = StreamingHttpResponse(
        _csv_lines(comparison, bom=downloads.wants_bom(request.GET)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="reminder-comparison-{comparison.pk}.csv"'
    return response

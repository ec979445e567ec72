"""The auditor's exports of consultations and fallback reviews (issue 16): pseudonymised as the adverse-event export
is (registry.pseudonymise; safety.exports.rows), streamed, scoped and logged.

- Who and what: the clinics where the user is an auditor or the lead (administrators: every clinic), exactly as the
  adverse-event export (safety.selectors.export_clinics_for); optionally one of them and a period.
- The patient appears as the registry number (the registry's pseudonym: random, it carries no meaning), sex and an
  age band, never by name, email, phone or year of birth. The selection factors are those the adverse-event export
  gives (safety.exports.rows.SELECTION_COLUMNS), the clinician is not named.
- Free text is left out: the consultation's reasoning, its pathology notes, where it referred the patient to (a
  named surgeon or practice identifies), and the review's notes. The adverse-event export leaves protocol notes
  and the selection's free text out for the same reason; it keeps only the event's description, which these
  records have no counterpart of. The structured answers (indications, reasons against, alternatives, decision,
  fallback plan, offers) say what was decided; ``referred`` says whether a referral was written down.
- Streamed: rows are read with ``values_list(...).iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL)
  and written a chunk of about 64 KB at a time, so memory does not grow with the registry.
- Logged: every download writes a safety.models.ExportLog row (who, when, which export and filters, rows, clinics)
  before the first byte, shown in the export log of the export page beside the adverse-event exports.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.db.models import CharField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from consultations.choices import Decision
from consultations.models import Consultation, FallbackReview
from registry.downloads import BOM
from registry.models import Injection, TreatmentPlan
from registry.models.patient import age_band
from registry.pseudonymise import check_row
from safety.exports.csv_export import CHUNK_BYTES, FORMULA_START
from safety.exports.rows import CHUNK_SIZE, SELECTION_COLUMNS
from safety.models import ExportLog
from safety.selectors import export_clinics_for

FORMAT = "csv"


@dataclass(frozen=True)
class Column:
    header: str
    path: str  # what values_list reads (a field path or an annotation)
    shown: Callable | None = None  # value -> cell, when not the value itself


def _listed(value) -> str | None:
    """A list of codes as one cell, "physiotherapy;surgical_referral" (as the adverse-event export lists)."""
    return (";".join(value) or None) if isinstance(value, list) else value


def _referred(value: str | None) -> bool:
    return bool((value or "").strip())


PATIENT = (
    Column("clinic_id", "patient__clinic_id"),
    Column("clinic", "patient__clinic__name"),
    Column("registry_number", "patient__registry_number"),
    Column("sex", "patient__sex"),
)
# The fallback plan means something only when proceeding (the model keeps its defaults otherwise).
PLAN_FIELDS = ("review_after_months", "not_improved_rule", "fallback_offer")

CONSULTATION_COLUMNS = (
    Column("consultation_id", "id"),
    *PATIENT,
    Column("age_band", "age_at_consultation", age_band),
    Column("knee", "knee"),
    Column("consulted_on", "consulted_on"),
    Column("kl_grade", "kl_grade"),
    Column("bmi", "bmi"),
    Column("alignment", "alignment"),
    Column("alignment_degrees", "alignment_degrees"),
    *(Column(name, name, _listed) for name in SELECTION_COLUMNS),
    Column("activity_level", "activity_level"),
    Column("pathology", "pathology", _listed),
    Column("previous_treatments", "previous_treatments", _listed),
    Column("indications", "indications", _listed),
    Column("reasons_against", "reasons_against", _listed),
    Column("alternatives_discussed", "alternatives_discussed", _listed),
    Column("decision", "decision"),
    Column("proposed_product", "proposed_product"),
    Column("referred", "referred_to", _referred),
    Column("review_after_months", "review_after_months"),
    Column("not_improved_rule", "not_improved_rule"),
    Column("fallback_offer", "fallback_offer", _listed),
    Column("injection_id", "injection_id"),
    Column("course_id", "injection__plan_id"),
    Column("recorded_at", "created_at"),
)

REVIEW_COLUMNS = (
    Column("review_id", "id"),
    *(Column(c.header, f"plan__{c.path}", c.shown) for c in PATIENT),
    Column("age_band", "first_age", age_band),
    Column("course_id", "plan_id"),
    Column("knee", "plan__knee"),
    Column("product", "plan__product"),
    Column("kl_grade", "first_kl_grade"),
    Column("first_injected_on", "first_injected_on"),
    Column("review_after_months", "review_after_months"),
    Column("reviewed_on", "reviewed_on"),
    Column("finding", "finding"),
    Column("offered", "offered", _listed),
    Column("offered_product", "offered_product"),
    Column("path_taken", "path_taken"),
    Column("repeat_course_id", "repeat_course_id"),
    Column("repeat_product", "repeat_product"),
    Column("recorded_at", "created_at"),
)

for _columns in (CONSULTATION_COLUMNS, REVIEW_COLUMNS):  # fail at import, not in an auditor's file
    check_row(dict.fromkeys(c.header for c in _columns))


# --- What each export holds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    clinic_ids: list[int]  # the clinics covered (already within the user's)
    on_or_after: dt.date | None
    on_or_before: dt.date | None

    def as_json(self, export: str) -> dict:
        return {
            "export": export,
            "clinic_ids": self.clinic_ids,
            "from": self.on_or_after.isoformat() if self.on_or_after else None,
            "to": self.on_or_before.isoformat() if self.on_or_before else None,
        }


class ExportFilterForm(forms.Form):
    """The export's parameters: a clinic (one of the user's; none: all of them) and a period, both optional."""

    clinic = forms.IntegerField(required=False, min_value=1)
    on_or_after = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    on_or_before = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def clean(self):
        data = super().clean()
        start, end = data.get("on_or_after"), data.get("on_or_before")
        if start and end and start > end:
            self.add_error("on_or_before", "The period ends before it starts.")
        return data


def export_filters(user, form: ExportFilterForm) -> ExportFilters | None:
    """The filters of a valid form, over the user's export clinics; None when the clinic asked for is not one of
    them (the caller answers 404, as the adverse-event export does)."""
    clinics = export_clinics_for(user)
    clinic = form.cleaned_data.get("clinic")
    if clinic is not None:
        clinics = clinics.filter(pk=clinic)
    ids = sorted(set(clinics.values_list("id", flat=True)))
    if clinic is not None and not ids:
        return None
    return ExportFilters(ids, form.cleaned_data.get("on_or_after"), form.cleaned_data.get("on_or_before"))


def consultations_for_export(filters: ExportFilters) -> QuerySet[Consultation]:
    consultations = Consultation.objects.filter(patient__clinic_id__in=filters.clinic_ids)
    if filters.on_or_after:
        consultations = consultations.filter(consulted_on__gte=filters.on_or_after)
    if filters.on_or_before:
        consultations = consultations.filter(consulted_on__lte=filters.on_or_before)
    return consultations.order_by("consulted_on", "id")


def reviews_for_export(filters: ExportFilters) -> QuerySet[FallbackReview]:
    reviews = FallbackReview.objects.filter(plan__patient__clinic_id__in=filters.clinic_ids)
    if filters.on_or_after:
        reviews = reviews.filter(reviewed_on__gte=filters.on_or_after)
    if filters.on_or_before:
        reviews = reviews.filter(reviewed_on__lte=filters.on_or_before)
    first = Injection.objects.filter(plan=OuterRef("plan"), number_in_plan=1)
    repeat = TreatmentPlan.objects.filter(repeat_of=OuterRef("plan")).order_by("pk")
    plan_consultation = Consultation.objects.filter(injection__plan=OuterRef("plan"), injection__number_in_plan=1)
    return reviews.annotate(
        first_age=Subquery(first.values("age_at_injection")[:1]),
        first_kl_grade=Subquery(first.values("kl_grade")[:1]),
        first_injected_on=Subquery(first.values("injected_on")[:1]),
        review_after_months=Subquery(plan_consultation.values("review_after_months")[:1]),
        repeat_course_id=Subquery(repeat.values("pk")[:1]),
        repeat_product=Subquery(repeat.values("product")[:1], output_field=CharField()),
    ).order_by("reviewed_on", "id")


def consultation_rows(consultations: QuerySet[Consultation]) -> Iterator[list]:
    """One row per consultation, streamed a chunk at a time; the fallback plan left empty unless proceeding."""
    paths = [c.path for c in CONSULTATION_COLUMNS]
    plan_at = [i for i, c in enumerate(CONSULTATION_COLUMNS) if c.header in PLAN_FIELDS]
    decision_at = paths.index("decision")
    for values in consultations.values_list(*paths).iterator(chunk_size=CHUNK_SIZE):
        row = [c.shown(v) if c.shown else v for c, v in zip(CONSULTATION_COLUMNS, values, strict=True)]
        if values[decision_at] != Decision.PROCEED:
            for i in plan_at:
                row[i] = None
        yield row


def review_rows(reviews: QuerySet[FallbackReview]) -> Iterator[list]:
    paths = [c.path for c in REVIEW_COLUMNS]
    for values in reviews.values_list(*paths).iterator(chunk_size=CHUNK_SIZE):
        yield [c.shown(v) if c.shown else v for c, v in zip(REVIEW_COLUMNS, values, strict=True)]


# --- CSV ---------------------------------------------------------------------------------------------------------


def _cell(value):
    """As the adverse-event CSV writes its cells: empty for nothing, true/false, ISO dates and UTC times, and a
    leading apostrophe before anything a spreadsheet would read as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_chunks(
    columns: tuple[Column, ...],
    rows: Iterator[list],
    *,
    on_done: Callable[[int], None] | None = None,
    bom: bool = False,
) -> Iterator[bytes]:
    """The header, then the rows, in chunks of about CHUNK_BYTES. ``on_done(rows)`` once the last row is out."""
    writer = csv.writer(_Line(), lineterminator="\n")
    parts = [(BOM if bom else "") + writer.writerow([c.header for c in columns])]
    size, count = len(parts[0]), 0
    for count, row in enumerate(rows, start=1):  # noqa: B007 - the count is reported
        line = writer.writerow([_cell(v) for v in row])
        parts.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode()
    if on_done is not None:
        on_done(count)


# --- The log -----------------------------------------------------------------------------------------------------


def export_logged(*, user, export: str, filters: ExportFilters, row_count: int) -> ExportLog:
    """That this export happened, as every adverse-event export is logged (safety.exports.service)."""
    log = ExportLog.objects.create(
        user=user, format=FORMAT, filters=filters.as_json(export), row_count=row_count, at=timezone.now()
    )
    log.clinics.set(filters.clinic_ids)
    return log


def filename(export: str) -> str:
    return f"{export}-{timezone.localtime():%Y%m%d-%H%M}.csv"


EXPORTS = {
    "consultations": (CONSULTATION_COLUMNS, consultations_for_export, consultation_rows),
    "fallback-reviews": (REVIEW_COLUMNS, reviews_for_export, review_rows),
}

__all__ = ["EXPORTS", "ExportFilterForm", "csv_chunks", "export_filters", "export_logged", "filename"]

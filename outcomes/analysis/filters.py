"""The dashboard's filters, defined once: the page's GET form, its CSV downloads and
``GET /api/v1/outcomes/summary/`` all read them through ``OutcomeFilter``.

Patient-profile filters (KL grade, age, protocol, injection date) describe the plan's first injection: the
knee as it was when the course began, which is also the day its follow-ups count from.
"""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES

from registry.choices import Product
from registry.models import TreatmentPlan
from registry.models.patient import AGE_BANDS, age_band
from registry.protocols import HarvestSite, ProcessingMethod

AGE_BAND_CHOICES = [(age_band(low), age_band(low)) for low, _high in AGE_BANDS]
KL_GRADE_CHOICES = [(str(g), f"KL {g}") for g in range(5)]
STAGED_CHOICES = [("single", "Single injection"), ("staged", "Staged plan (more than one injection)")]
COMPARE_BY_CHOICES = [
    ("product", "Product"),
    ("kl_grade", "KL grade"),
    ("age_band", "Age band"),
    ("staged", "Single vs staged"),
    ("clinic", "Clinic"),
    ("clinician", "Clinician"),
]
DEFAULT_COMPARE_BY = "product"


class OutcomeFilter(filters.FilterSet):
    """Narrows an analysis cohort (``outcomes.analysis.cohort``: plans annotated with ``first``, their first
    injection). Pass ``clinics`` ({id: name}, the user's clinics from registry.scoping) to offer the clinic
    choice; an id outside it is an invalid choice, and the cohort is already scoped anyway."""

    clinic = filters.ChoiceFilter(field_name="patient__clinic_id", choices=[], label="Clinic", help_text="Clinic id.")
    product = filters.ChoiceFilter(choices=Product.choices)
    harvest_site = filters.ChoiceFilter(
        choices=HarvestSite.choices, help_text="BMAC harvest site (implies BMAC).", label="Harvest site (BMAC)"
    )
    processing_method = filters.ChoiceFilter(
        field_name="first__protocol__processing_method",
        choices=ProcessingMethod.choices,
        help_text="BMAC processing method.",
        label="Processing method (BMAC)",
    )
    kl_grade = filters.ChoiceFilter(
        field_name="first__kl_grade",
        choices=KL_GRADE_CHOICES,
        label="KL grade",
        help_text="Kellgren-Lawrence grade, 0-4.",
    )
    age_band = filters.ChoiceFilter(choices=AGE_BAND_CHOICES, label="Age band", help_text="Age at the first injection.")
    staged = filters.ChoiceFilter(choices=STAGED_CHOICES, label="Single or staged")
    injected_after = filters.DateFilter(
        field_name="first__injected_on",
        lookup_expr="gte",
        label="First injection on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    injected_before = filters.DateFilter(
        field_name="first__injected_on",
        lookup_expr="lte",
        label="First injection on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    compare_by = filters.ChoiceFilter(
        choices=COMPARE_BY_CHOICES,
        empty_label=None,
        label="Compare groups by",
        help_text="How the change-over-time chart splits the cohort (not a filter).",
    )

    class Meta:
        model = TreatmentPlan
        fields: list[str] = []

    def __init__(self, data=None, *args, clinics: dict[int, str] | None = None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.filters["clinic"].extra["choices"] = [(str(pk), name) for pk, name in (clinics or {}).items()]

    # Each condition becomes part of ONE .filter() call: django-filter's default of one call per filter would
    # join the first injection once per filter used (a multi-valued relation), each join a scan at scale.
    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        condition = Q()
        for name, value in self.form.cleaned_data.items():
            if value in EMPTY_VALUES:
                continue
            method = getattr(self, f"q_{name}", None)
            if method is not None:
                condition &= method(value)
            else:
                f = self.filters[name]
                condition &= Q(**{f"{f.field_name}__{f.lookup_expr}": value})
        return queryset.filter(condition)

    def q_harvest_site(self, value: str) -> Q:
        return Q(first__product=Product.BMAC, first__protocol__harvest_site=value)

    def q_age_band(self, value: str) -> Q:
        for low, high in AGE_BANDS:
            if age_band(low) == value:
                return Q(first__age_at_injection__gte=low, first__age_at_injection__lte=high)
        return Q(pk__in=[])  # pragma: no cover - the choice field already rejected it

    def q_staged(self, value: str) -> Q:
        return Q(planned_injections__gt=1) if value == "staged" else Q(planned_injections=1)

    def q_compare_by(self, value: str) -> Q:
        return Q()  # a display option carried with the filters, not a condition

    @property
    def compare_by_value(self) -> str:
        return (self.form.cleaned_data.get("compare_by") if self.is_bound else None) or DEFAULT_COMPARE_BY

    def active(self) -> dict[str, str]:
        """Applied filters as {label: shown value}, for page headings and CSV files."""
        shown = {}
        for name, value in self.form.cleaned_data.items():
            if value in EMPTY_VALUES or name == "compare_by":
                continue
            field = self.form.fields[name]
            choices = dict(getattr(field, "choices", []) or [])
            shown[str(field.label or name)] = str(choices.get(str(value), value))
        return shown


__all__ = ["COMPARE_BY_CHOICES", "DEFAULT_COMPARE_BY", "OutcomeFilter"]

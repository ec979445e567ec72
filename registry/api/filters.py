"""Query filters for the registry API's lists. They narrow querysets that registry.scoping already limited to the
user's clinics, so an id from another clinic simply matches nothing."""

from django import forms
from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from registry.api.mixins import MAX_ID
from registry.choices import InjectionStatus, Knee, Product, Sex
from registry.models import Clinic, Injection, Patient


class _BoundedIntegerField(forms.IntegerField):
    # SQLite raises OverflowError (a 500) for integers past 64 bits instead of matching nothing.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IntegerFilter(filters.NumberFilter):
    """An id or a count: whole numbers only (NumberFilter would accept 1.5)."""

    field_class = _BoundedIntegerField


class _StrictBooleanField(forms.NullBooleanField):
    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        normal = str(value).strip().lower()
        if normal in {"true", "1"}:
            return True
        if normal in {"false", "0"}:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


class BooleanFilter(filters.BooleanFilter):
    """true/false; anything else is a 400 rather than silently no filter at all."""

    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class ClinicFilter(filters.FilterSet):
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the clinic's name.")

    class Meta:
        model = Clinic
        fields = ["q"]


class PatientFilter(filters.FilterSet):
    clinic = IntegerFilter(field_name="clinic_id", help_text="Clinic id.")
    registry_number = filters.CharFilter(lookup_expr="iexact")
    sex = filters.ChoiceFilter(choices=Sex.choices)
    year_of_birth_min = IntegerFilter(field_name="year_of_birth", lookup_expr="gte")
    year_of_birth_max = IntegerFilter(field_name="year_of_birth", lookup_expr="lte")
    withdrawn = BooleanFilter(
        field_name="consent_withdrawn_at", lookup_expr="isnull", exclude=True, help_text="Consent withdrawn."
    )
    q = filters.CharFilter(method="search", label="Search", help_text="Part of the registry number, name or email.")

    class Meta:
        model = Patient
        fields = ["clinic", "registry_number", "sex", "year_of_birth_min", "year_of_birth_max", "withdrawn", "q"]

    def search(self, queryset, name, value: str):
        return queryset.filter(
            Q(registry_number__icontains=value) | Q(full_name__icontains=value) | Q(email__icontains=value)
        )


class InjectionFilter(filters.FilterSet):
    patient = IntegerFilter(field_name="patient_id", help_text="Patient id.")
    clinic = IntegerFilter(field_name="patient__clinic_id", help_text="Clinic id.")
    product = filters.ChoiceFilter(choices=Product.choices)
    knee = filters.ChoiceFilter(choices=Knee.choices)
    status = filters.ChoiceFilter(choices=InjectionStatus.choices)
    kl_grade = IntegerFilter(help_text="Kellgren-Lawrence grade, 0-4.")
    injected_after = filters.DateFilter(field_name="injected_on", lookup_expr="gte", help_text="On or after.")
    injected_before = filters.DateFilter(field_name="injected_on", lookup_expr="lte", help_text="On or before.")
    harvest_site = filters.CharFilter(
        field_name="protocol__harvest_site", label="Harvest site", help_text="Protocol harvest site code."
    )
    processing_method = filters.CharFilter(
        field_name="protocol__processing_method",
        label="Processing method",
        help_text="Protocol processing method code.",
    )
    staged = BooleanFilter(
        method="filter_staged", label="Staged", help_text="Part of a staged plan (more than one injection)."
    )

    class Meta:
        model = Injection
        fields = [
            "patient",
            "clinic",
            "product",
            "knee",
            "status",
            "kl_grade",
            "injected_after",
            "injected_before",
            "harvest_site",
            "processing_method",
            "staged",
        ]

    def filter_staged(self, queryset, name, value: bool):
        return queryset.filter(plan__planned_injections__gt=1) if value else queryset.filter(plan__planned_injections=1)

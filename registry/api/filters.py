"""Query filters for the registry API's lists. They narrow querysets that registry.scoping already limited to the
user's clinics, so an id from another clinic simply matches nothing."""

import datetime as dt
from collections.abc import Iterable, Mapping

from django import forms
from django.db.models import Q
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
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


class _BoundedIsoDateTimeField(IsoDateTimeField):
    """The time in UTC: PostgreSQL refuses offsets past +-15:59 that ISO 8601 allows, and a time whose UTC value
    falls outside years 1-9999 cannot be compared at all (both were 500s); the latter is a 400."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            message = "Enter a time between the years 1 and 9999 (UTC)."
            raise forms.ValidationError(message, code="invalid") from None


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date and time (with its offset); one that cannot be a stored time is a 400."""

    field_class = _BoundedIsoDateTimeField


BLANK_VALUE = "Give a value, or leave the parameter out."


def blank_parameters(data: Mapping, names: Iterable[str]) -> dict[str, list[str]]:
    """The parameters among `names` given with an empty value: a 400, never "no filter" (a client that sends
    ?clinic= by mistake would otherwise read every clinic's rows)."""
    errors = {}
    for name in names:
        if name in data:
            values = data.getlist(name) if hasattr(data, "getlist") else [data[name]]
            if any(value is None or not str(value).strip() for value in values):
                errors[name] = [BLANK_VALUE]
    return errors


class _NoBlankValuesForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        for name, messages in blank_parameters(self.data, self.fields).items():
            if name not in self.errors:
                self.add_error(name, messages)
        return cleaned


class RegistryFilterSet(filters.FilterSet):
    """Every API list's filters: a parameter given empty is a 400 like any other malformed value."""

    def get_form_class(self):
        return type(f"{type(self).__name__}Form", (_NoBlankValuesForm, super().get_form_class()), {})


class ClinicFilter(RegistryFilterSet):
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the clinic's name.")

    class Meta:
        model = Clinic
        fields = ["q"]


class PatientFilter(RegistryFilterSet):
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


class InjectionFilter(RegistryFilterSet):
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

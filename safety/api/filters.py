"""Filters for the flag list. They narrow a queryset already scoped to the user's clinics."""

from django_filters import rest_framework as filters

from registry.api.filters import BooleanFilter, IntegerFilter, IsoDateTimeFilter, RegistryFilterSet
from safety.choices import FlagRule, FlagStatus
from safety.models import Flag


class FlagFilter(RegistryFilterSet):
    clinic = IntegerFilter(field_name="clinic_id", help_text="Clinic id.")
    patient = IntegerFilter(field_name="patient_id", help_text="Patient id.")
    registry_number = filters.CharFilter(field_name="patient__registry_number", lookup_expr="iexact")
    status = filters.MultipleChoiceFilter(choices=FlagStatus.choices, help_text="Repeat for several statuses.")
    urgent = BooleanFilter(help_text="true: urgent flags only; false: the others.")
    rule = filters.MultipleChoiceFilter(choices=FlagRule.choices, help_text="Repeat for several rules.")
    raised_after = IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte", help_text="On or after.")
    raised_before = IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt", help_text="Before.")

    class Meta:
        model = Flag
        fields = ["clinic", "patient", "registry_number", "status", "urgent", "rule", "raised_after", "raised_before"]

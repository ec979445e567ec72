"""Filters for the follow-ups list. They narrow a queryset already scoped by outcomes.selectors, so an id from
another clinic simply matches nothing."""

from django_filters import rest_framework as filters

from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from registry.api.filters import IntegerFilter, RegistryFilterSet
from registry.models import Injection


class FollowUpFilter(RegistryFilterSet):
    injection = IntegerFilter(
        method="by_injection", label="Injection", help_text="Injection id: the follow-ups of its treatment plan."
    )
    plan = IntegerFilter(field_name="plan_id", help_text="Treatment plan id.")
    patient = IntegerFilter(field_name="patient_id", help_text="Patient id.")
    clinic = IntegerFilter(field_name="clinic_id", help_text="Clinic id.")
    status = filters.ChoiceFilter(choices=FollowUpStatus.choices)
    timepoint = filters.ChoiceFilter(choices=Timepoint.choices)

    class Meta:
        model = FollowUp
        fields = ["injection", "plan", "patient", "clinic", "status", "timepoint"]

    def by_injection(self, queryset, name, value):
        # Follow-ups belong to the plan, measured from its first injection: any injection of the plan finds them.
        return queryset.filter(plan__in=Injection.objects.filter(pk=value).values("plan_id"))

"""Filters for the adverse-event list. They narrow a queryset already scoped to the user's clinics."""

from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters

from registry.api.filters import BooleanFilter, IntegerFilter, RegistryFilterSet
from registry.choices import Product
from safety.choices_events import OPEN_OUTCOMES, RESOLVED_OUTCOMES, Causality, EventCategory, EventStatus
from safety.models_events import AdverseEvent


class AdverseEventFilter(RegistryFilterSet):
    clinic = IntegerFilter(field_name="clinic_id", help_text="Clinic id.")
    patient = IntegerFilter(field_name="patient_id", help_text="Patient id.")
    registry_number = filters.CharFilter(field_name="patient__registry_number", lookup_expr="iexact")
    product = filters.ChoiceFilter(
        choices=Product.choices,
        method="filter_product",
        label="Product",
        help_text="Product of any of the event's injections.",
    )
    onset_after = filters.DateFilter(field_name="onset_on", lookup_expr="gte", help_text="Onset on or after.")
    onset_before = filters.DateFilter(field_name="onset_on", lookup_expr="lte", help_text="Onset on or before.")
    serious = BooleanFilter(field_name="is_serious", help_text="true: serious events only; false: the others.")
    status = filters.ChoiceFilter(
        choices=EventStatus.choices,
        method="filter_status",
        label="Status",
        help_text="open: recovering, ongoing or unknown outcome; resolved: recovered, with sequelae, or fatal.",
    )
    causality = filters.MultipleChoiceFilter(choices=Causality.choices, help_text="Repeat for several.")
    category = filters.MultipleChoiceFilter(choices=EventCategory.choices, help_text="Repeat for several.")

    class Meta:
        model = AdverseEvent
        fields = [
            "clinic",
            "patient",
            "registry_number",
            "product",
            "onset_after",
            "onset_before",
            "serious",
            "status",
            "causality",
            "category",
        ]

    def filter_product(self, queryset, name, value):
        through = AdverseEvent.injections.through
        return queryset.filter(Exists(through.objects.filter(adverseevent_id=OuterRef("pk"), injection__product=value)))

    def filter_status(self, queryset, name, value):
        return queryset.filter(outcome__in=RESOLVED_OUTCOMES if value == EventStatus.RESOLVED else OPEN_OUTCOMES)

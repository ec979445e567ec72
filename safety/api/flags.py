"""Safety flags over the API: serializer, filters and the read-only viewset."""

from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets

from registry.api.filters import BooleanFilter, IntegerFilter, IsoDateTimeFilter, RegistryFilterSet
from registry.api.mixins import ID_IN_URL
from safety.choices import FlagKind, FlagRule, FlagStatus
from safety.models import Flag
from safety.selectors import INBOX_ORDER, flags_for


class FlagSerializer(serializers.ModelSerializer):
    patient_registry_number = serializers.CharField(source="patient.registry_number", read_only=True)
    timepoint = serializers.CharField(
        source="follow_up.timepoint", read_only=True, help_text="baseline, 1m, 6m, 12m or 24m."
    )
    rule_label = serializers.CharField(source="get_rule_display", read_only=True)
    kind = serializers.ChoiceField(
        choices=FlagKind.choices,
        read_only=True,
        help_text="safety: a possible harm; worsening: scores worse than baseline (an efficacy signal, not safety).",
    )
    age_days = serializers.IntegerField(read_only=True, help_text="Whole days since the flag was raised.")
    values = serializers.JSONField(
        read_only=True, help_text="What fired: the answers, or baseline and follow-up scores with the threshold."
    )

    class Meta:
        model = Flag
        fields = [
            "id",
            "clinic",
            "patient",
            "patient_registry_number",
            "follow_up",
            "timepoint",
            "rule",
            "rule_label",
            "kind",
            "urgent",
            "values",
            "status",
            "dismissed_reason",
            "reviewed_by",
            "reviewed_at",
            "raised_at",
            "age_days",
        ]
        read_only_fields = fields


class FlagFilter(RegistryFilterSet):
    clinic = IntegerFilter(field_name="clinic_id", help_text="Clinic id.")
    patient = IntegerFilter(field_name="patient_id", help_text="Patient id.")
    registry_number = filters.CharFilter(field_name="patient__registry_number", lookup_expr="iexact")
    status = filters.MultipleChoiceFilter(choices=FlagStatus.choices, help_text="Repeat for several statuses.")
    urgent = BooleanFilter(help_text="true: urgent flags only; false: the others.")
    rule = filters.MultipleChoiceFilter(choices=FlagRule.choices, help_text="Repeat for several rules.")
    kind = filters.ChoiceFilter(
        choices=FlagKind.choices, method="filter_kind", help_text="safety flags or worsening signals only."
    )
    raised_after = IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte", help_text="On or after.")
    raised_before = IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt", help_text="Before.")

    class Meta:
        model = Flag
        fields = [
            "clinic",
            "patient",
            "registry_number",
            "status",
            "urgent",
            "rule",
            "kind",
            "raised_after",
            "raised_before",
        ]

    def filter_kind(self, queryset, name, value):
        return queryset.of_kind(value)


class FlagViewSet(viewsets.ReadOnlyModelViewSet):
    """Safety flags of the user's clinics, urgent first, then oldest. Read-only: a flag is reviewed on its page
    (and, later, through the adverse-event workflow)."""

    serializer_class = FlagSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = FlagFilter

    def get_queryset(self):
        return flags_for(self.request.user).select_related("patient", "follow_up").order_by(*INBOX_ORDER)

"""``/api/v1/reminder-comparisons/``: the clinics' randomised comparisons of reminder strategies (read only; the
clinic lead starts and stops them on the page), and each one's per-arm completion at ``.../{id}/results/``.

Scoped to the user's clinics (a comparison elsewhere is a 404). The results may leave the clinic, so they are
protected as a download is (outcomes.analysis.comparison, channel "api"): a withheld number is null."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from outcomes import reminders
from outcomes.analysis.comparison import comparison_results
from outcomes.models import ComparisonArm, ReminderComparison, ReminderStrategy, Timepoint
from registry.api.mixins import ID_IN_URL


class ReminderStrategySerializer(serializers.ModelSerializer):
    text_reminder_days = serializers.ListField(
        child=serializers.IntegerField(), help_text="Days after the questionnaire opens; empty: no text reminders."
    )

    class Meta:
        model = ReminderStrategy
        fields = ["id", "name", "text_reminders", "text_reminder_days", "show_own_scores"]
        read_only_fields = fields


class ReminderComparisonSerializer(serializers.ModelSerializer):
    arm_a = ReminderStrategySerializer(read_only=True)
    arm_b = ReminderStrategySerializer(read_only=True)
    running = serializers.BooleanField(source="is_running", read_only=True)

    class Meta:
        model = ReminderComparison
        fields = ["id", "clinic", "question", "starts_on", "running", "stopped_at", "stop_reason", "arm_a", "arm_b"]
        read_only_fields = fields


class ComparisonShareSerializer(serializers.Serializer):
    n = serializers.IntegerField(allow_null=True, help_text="Completed; null when withheld.")
    N = serializers.IntegerField(allow_null=True, help_text="Due; null when withheld.")
    pct = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval, in percent.")
    ci_high = serializers.FloatField(allow_null=True)
    withheld_in_downloads = serializers.BooleanField()


class ComparisonDifferenceSerializer(serializers.Serializer):
    estimate = serializers.FloatField(allow_null=True, help_text="Arm A minus arm B, percentage points.")
    ci_low = serializers.FloatField(allow_null=True, help_text="Newcombe hybrid score 95% interval.")
    ci_high = serializers.FloatField(allow_null=True)
    withheld_in_downloads = serializers.BooleanField()


class ComparisonTimepointSerializer(serializers.Serializer):
    timepoint = serializers.ChoiceField(choices=Timepoint.choices)
    label = serializers.CharField()
    arms = serializers.DictField(child=ComparisonShareSerializer(), help_text='Keyed by arm: "a" and "b".')
    difference = ComparisonDifferenceSerializer()


class ComparisonArmSerializer(serializers.Serializer):
    arm = serializers.ChoiceField(choices=ComparisonArm.choices)
    label = serializers.CharField()
    name = serializers.CharField()
    texts = serializers.CharField()
    show_own_scores = serializers.BooleanField()
    patients = serializers.IntegerField(allow_null=True)
    patients_withheld_in_downloads = serializers.BooleanField()


class ComparisonResultsSerializer(serializers.Serializer):
    arms = ComparisonArmSerializer(many=True)
    timepoints = ComparisonTimepointSerializer(many=True)
    protected = serializers.BooleanField()
    minimum = serializers.IntegerField(help_text="The smallest number of patients a published number may describe.")
    today = serializers.DateField()
    note = serializers.CharField()


@extend_schema_view(
    list=extend_schema(summary="Reminder comparisons of the user's clinics"),
    retrieve=extend_schema(summary="One reminder comparison"),
)
class ReminderComparisonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReminderComparisonSerializer
    lookup_value_regex = ID_IN_URL

    def get_queryset(self):
        return reminders.comparisons_for(self.request.user).select_related("arm_a", "arm_b").order_by("-id")

    @extend_schema(
        summary="Completion per arm at baseline, 1 and 6 months, with the difference and its 95% interval",
        description=(
            "Completed of due (follow-ups not yet due left out) per arm, Wilson 95% intervals, and arm A minus "
            "arm B with Newcombe's hybrid score interval. Protected as the downloads are: a number describing "
            "fewer than the minimum of patients, or giving one away, is null. Not a clinical comparison."
        ),
        responses=ComparisonResultsSerializer,
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        comparison = self.get_object()
        return Response(ComparisonResultsSerializer(comparison_results(comparison, channel="api")).data)

"""``GET /api/v1/outcomes/summary/``: the outcomes dashboard's numbers as JSON, protected as a download is.

Scoped to the user's clinics like the page. Its numbers may leave the clinic, so (outcomes.analysis.disclosure,
for every role) a number describing fewer than DASHBOARD_MIN_GROUP_SIZE people, or one that would give such a
number away, is null and named in its object's ``suppressed`` list; it describes all the user's clinics' plans
and takes no filter but ``compare_by`` (a filter is a 400). The serializers describe the response for the schema
and pass the summary through unchanged in shape.
"""

from __future__ import annotations

from django_filters import filters as df
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomes.analysis.filters import OutcomeFilter
from outcomes.analysis.summary import InvalidFilters, released_summary
from registry.api.filters import blank_parameters

SUPPRESSED_HELP = "Fields withheld (null) because they describe, or would give away, fewer than the minimum of people."


def _suppressed():
    return serializers.ListField(child=serializers.CharField(), help_text=SUPPRESSED_HELP)


class MeanSerializer(serializers.Serializer):
    n = serializers.IntegerField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True, help_text="Sample SD; null when n < 2.")
    ci_low = serializers.FloatField(allow_null=True, help_text="95% CI (t distribution); null when n < 2.")
    ci_high = serializers.FloatField(allow_null=True)
    suppressed = _suppressed()


class ShareSerializer(serializers.Serializer):
    n = serializers.IntegerField(allow_null=True)
    N = serializers.IntegerField(allow_null=True, help_text="Denominator.")
    pct = serializers.FloatField(allow_null=True, help_text="100 n / N; null when N is 0 or either is withheld.")
    ci_low = serializers.FloatField(allow_null=True, help_text="Wilson 95% interval of pct, in percent; null with pct.")
    ci_high = serializers.FloatField(allow_null=True)
    suppressed = _suppressed()


class McidSerializer(ShareSerializer):
    threshold = serializers.FloatField()
    direction = serializers.ChoiceField(choices=["increase", "decrease"])


class MeasureResultSerializer(serializers.Serializer):
    measure = serializers.CharField()
    label = serializers.CharField()
    score = MeanSerializer()
    change = MeanSerializer(allow_null=True, help_text="Follow-up minus the same plan's baseline; null at baseline.")
    mcid = McidSerializer(allow_null=True)
    mcid_all_due = ShareSerializer(
        allow_null=True, help_text="Missing as non-responder: MCID reached, of every plan due at the timepoint."
    )
    same_knees = MeanSerializer(
        allow_null=True, help_text="Change over the plans scored at baseline and at every follow-up (same patients)."
    )
    pass_all_due = ShareSerializer(allow_null=True, help_text="Missing as non-responder: PASS, of every plan due.")


# "pass" is a Python keyword, so it cannot be a class attribute: declared after the class (output and schema alike).
MeasureResultSerializer._declared_fields["pass"] = McidSerializer(
    allow_null=True,
    help_text="Patient acceptable symptom state at the follow-up, of the plans scored; null where the reference has "
    "no PASS.",
)


class TimepointResultSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    label = serializers.CharField()
    measures = MeasureResultSerializer(many=True)
    responders = ShareSerializer(
        allow_null=True, help_text="OMERACT-OARSI responders (pain: KOOS Pain only); null at baseline."
    )
    responders_all_due = ShareSerializer(
        allow_null=True, help_text="Missing as non-responder: responders, of every plan due; null at baseline."
    )
    due = serializers.IntegerField(allow_null=True, required=False, help_text="Plans due; absent at baseline.")


class CompletionSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    label = serializers.CharField()
    plans = serializers.IntegerField(allow_null=True)
    completed = serializers.IntegerField(allow_null=True)
    missed = serializers.IntegerField(allow_null=True)
    open_overdue = serializers.IntegerField(allow_null=True)
    not_yet_due = serializers.IntegerField(allow_null=True)
    cancelled = serializers.IntegerField(allow_null=True)
    due = serializers.IntegerField(
        allow_null=True, help_text="completed + missed + open past due: the completion denominator."
    )
    completion = ShareSerializer()
    suppressed = _suppressed()


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    plans = serializers.IntegerField(allow_null=True)
    timepoints = TimepointResultSerializer(many=True)
    suppressed = _suppressed()


class KLTimepointSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    label = serializers.CharField()
    due = serializers.IntegerField(allow_null=True)
    responders = ShareSerializer()
    responders_all_due = ShareSerializer()
    mcid_koos_pain = ShareSerializer()
    mcid_koos_pain_all_due = ShareSerializer()


class KLGradeSerializer(serializers.Serializer):
    kl_grade = serializers.IntegerField()
    label = serializers.CharField()
    plans = serializers.IntegerField(allow_null=True)
    timepoints = KLTimepointSerializer(many=True)
    suppressed = _suppressed()


class CompletionGroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    timepoints = CompletionSerializer(many=True)


class BaselineByCompletionSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    timepoint_label = serializers.CharField()
    measure = serializers.CharField()
    label = serializers.CharField()
    completed = MeanSerializer()
    lost = MeanSerializer()


class LossToFollowUpSerializer(serializers.Serializer):
    by_clinic = CompletionGroupSerializer(many=True)
    by_clinician = CompletionGroupSerializer(many=True)
    by_product = CompletionGroupSerializer(many=True)
    baseline_by_completion = BaselineByCompletionSerializer(many=True)


class AdverseEventRowSerializer(serializers.Serializer):
    product = serializers.CharField()
    label = serializers.CharField()
    seriousness = serializers.CharField()
    events = serializers.IntegerField(allow_null=True)
    injections = serializers.IntegerField(allow_null=True)
    per_100 = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(
        allow_null=True, help_text="Exact (Clopper-Pearson) 95% interval of per_100; null with per_100."
    )
    ci_high = serializers.FloatField(allow_null=True)
    suppressed = _suppressed()


class AdverseEventsSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    note = serializers.CharField()
    rows = AdverseEventRowSerializer(many=True)


class PassThresholdSerializer(serializers.Serializer):
    value = serializers.FloatField()
    direction = serializers.ChoiceField(choices=["increase", "decrease"], help_text="increase: at or above.")
    source = serializers.CharField()
    arthroplasty = serializers.BooleanField(help_text="Measured in knee-replacement cohorts.")


class ThresholdSerializer(serializers.Serializer):
    measure = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField()
    direction = serializers.ChoiceField(choices=["increase", "decrease"])
    source = serializers.CharField()


ThresholdSerializer._declared_fields["pass"] = PassThresholdSerializer(allow_null=True)  # "pass": see above


class OutcomesSummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    as_of = serializers.DateField(help_text="Day against which 'past due' is judged.")
    filters = serializers.DictField(child=serializers.CharField(), help_text="Applied filters, as shown.")
    compare_by = serializers.CharField()
    definitions = serializers.DictField(child=serializers.CharField())
    thresholds = ThresholdSerializer(many=True)
    plans = serializers.IntegerField(allow_null=True, help_text="Plans (knees' courses of treatment) in the cohort.")
    suppressed = _suppressed()
    completion = CompletionSerializer(many=True)
    timepoints = TimepointResultSerializer(many=True)
    groups = GroupSerializer(many=True)
    responders_by_kl = KLGradeSerializer(many=True)
    loss_to_follow_up = LossToFollowUpSerializer()
    adverse_events = AdverseEventsSerializer()


def _parameters() -> list[OpenApiParameter]:
    """The parameters the summary takes, from OutcomeFilter where they are defined once: only compare_by, as the
    summary (a download) takes no filters (outcomes.analysis.disclosure)."""
    params = []
    for name, f in OutcomeFilter.base_filters.items():
        if name != "compare_by":
            continue
        kind = OpenApiTypes.DATE if isinstance(f, df.DateFilter) else OpenApiTypes.STR
        choices = f.extra.get("choices") or None
        params.append(
            OpenApiParameter(
                name,
                kind,
                OpenApiParameter.QUERY,
                description=str(f.extra.get("help_text") or f.label or name),
                enum=[str(value) for value, _ in choices] if choices else None,
            )
        )
    return params


class OutcomesSummaryView(APIView):
    @extend_schema(
        operation_id="outcomes_summary",
        summary="Outcomes summary",
        description="Per timepoint: plans, completion, mean scores and changes from baseline with 95% CIs, MCID "
        "and OMERACT-OARSI responders with their counts; groups, KL grades and loss to follow-up. Of all the "
        "user's clinics' plans; no filters. Numbers that describe fewer than the minimum of people (10 unless "
        "configured higher), and numbers that would give one away, are null and named in 'suppressed'.",
        parameters=_parameters(),
        responses=OutcomesSummarySerializer,
    )
    def get(self, request: Request) -> Response:
        # The dashboard's form sends empty fields for "any"; an API client's empty value is a mistake to report.
        blank = blank_parameters(request.query_params, OutcomeFilter.base_filters)
        if blank:
            raise ValidationError(blank)
        try:
            summary = released_summary(request.user, request.query_params, channel="api")
        except InvalidFilters as exc:
            raise ValidationError(exc.errors) from exc
        return Response(OutcomesSummarySerializer(summary).data)

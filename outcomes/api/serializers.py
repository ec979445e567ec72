"""Output shape of the outcomes API. Scores are the current values (a clinician amendment replaces the original),
keyed by measure name ("koos.pain", "oks.total", "vas.pain", "pga.global") as in outcomes.measures."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from outcomes import selectors
from outcomes.models import FollowUp, FollowUpStatus, SubmissionSource, Timepoint
from registry.choices import Knee, Product

_NULLABLE_NUMBER_MAP = {
    "type": "object",
    "additionalProperties": {"type": "number", "nullable": True},
    "nullable": True,
}
# Null until the follow-up is answered (or when not computable), so the schema must say so.
_NULLABLE_BOOL = serializers.BooleanField(allow_null=True)
_NULLABLE_DATETIME = serializers.DateTimeField(allow_null=True)
_NULLABLE_STR = serializers.CharField(allow_null=True)

_NULLABLE_BOOL_MAP = {
    "type": "object",
    "additionalProperties": {"type": "boolean", "nullable": True},
    "nullable": True,
}


class FollowUpSerializer(serializers.ModelSerializer):
    timepoint = serializers.ChoiceField(choices=Timepoint.choices, read_only=True)
    status = serializers.ChoiceField(choices=FollowUpStatus.choices, read_only=True)
    # Which knee and product: a patient treated in both knees has two follow-ups at each timepoint.
    knee = serializers.ChoiceField(source="plan.knee", choices=Knee.choices, read_only=True)
    product = serializers.ChoiceField(source="plan.product", choices=Product.choices, read_only=True)
    injected_on = serializers.DateField(
        source="injection_day", read_only=True, help_text="The plan's first injection day."
    )
    scores = serializers.SerializerMethodField(help_text="Current scores by measure, once completed; else null.")
    oks_imputed = serializers.SerializerMethodField(help_text="OKS total imputed from 10 or 11 answered items.")
    submitted_at = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()
    late = serializers.SerializerMethodField(help_text="A baseline answered after the injection day.")
    amended = serializers.SerializerMethodField()
    change_from_baseline = serializers.SerializerMethodField(
        help_text="Follow-up minus baseline per measure (null where either is missing, and at baseline)."
    )
    mcid_reached = serializers.SerializerMethodField(
        help_text="Whether each change reaches the minimal clinically important difference (configurable)."
    )
    responder = serializers.SerializerMethodField(help_text="OMERACT-OARSI responder; null when not computable.")
    responder_criterion = serializers.SerializerMethodField(help_text='"A" or "B" when a responder.')

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "plan",
            "patient",
            "clinic",
            "timepoint",
            "knee",
            "product",
            "injected_on",
            "opens_on",
            "due_on",
            "closes_on",
            "status",
            "scores",
            "oks_imputed",
            "submitted_at",
            "source",
            "late",
            "amended",
            "change_from_baseline",
            "mcid_reached",
            "responder",
            "responder_criterion",
        ]
        read_only_fields = fields

    def _submission(self, obj):
        return selectors.submission_of(obj)

    def _derived(self, obj) -> selectors.Derived:
        return self.context.get("derived", {}).get(obj.pk, selectors.NOT_COMPUTABLE)

    @extend_schema_field(_NULLABLE_NUMBER_MAP)
    def get_scores(self, obj):
        submission = self._submission(obj)
        return selectors.current_scores(submission) if submission else None

    @extend_schema_field(_NULLABLE_BOOL)
    def get_oks_imputed(self, obj) -> bool | None:
        submission = self._submission(obj)
        return submission.oks_imputed if submission else None

    @extend_schema_field(_NULLABLE_DATETIME)
    def get_submitted_at(self, obj):
        submission = self._submission(obj)
        return serializers.DateTimeField().to_representation(submission.submitted_at) if submission else None

    @extend_schema_field(serializers.ChoiceField(choices=SubmissionSource.choices, allow_null=True))
    def get_source(self, obj):
        submission = self._submission(obj)
        return submission.source if submission else None

    @extend_schema_field(_NULLABLE_BOOL)
    def get_late(self, obj) -> bool | None:
        submission = self._submission(obj)
        return submission.late if submission else None

    @extend_schema_field(_NULLABLE_BOOL)
    def get_amended(self, obj) -> bool | None:
        submission = self._submission(obj)
        return submission.amended if submission else None

    @extend_schema_field(_NULLABLE_NUMBER_MAP)
    def get_change_from_baseline(self, obj):
        return self._derived(obj).change_from_baseline

    @extend_schema_field(_NULLABLE_BOOL_MAP)
    def get_mcid_reached(self, obj):
        return self._derived(obj).mcid_reached

    @extend_schema_field(_NULLABLE_BOOL)
    def get_responder(self, obj) -> bool | None:
        return self._derived(obj).responder

    @extend_schema_field(_NULLABLE_STR)
    def get_responder_criterion(self, obj) -> str | None:
        return self._derived(obj).responder_criterion


class ScoreAnswersSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        allow_empty=True,
        help_text='Item code to item score (the official scoring-key value), e.g. {"P1": 2, "P2": null}.',
    )
    version = serializers.CharField(
        required=False, help_text="Instrument version; the current one when omitted.", max_length=20
    )


class InstrumentSerializer(serializers.Serializer):
    code = serializers.CharField()
    version = serializers.CharField()
    current = serializers.BooleanField(help_text="New questionnaires use this version.")
    name = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField(), help_text="Item codes in presentation order.")
    scales = serializers.ListField(child=serializers.CharField(), help_text="What score() returns, by key.")
    scoring_rule = serializers.CharField()
    wording = serializers.CharField(help_text='"demo" (shipped) or "override" (licensed text loaded from a file).')

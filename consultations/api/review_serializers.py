"""The fallback review's API shape. The serializer checks types and vocabularies; the rules about one review are
the model's (consultations.models.FallbackReview.clean) and the service's, reported per field."""

from rest_framework import serializers

from consultations.choices import FallbackOffer, ReviewFinding
from consultations.models import REASONING_MAX, FallbackReview
from consultations.review_services import REVIEW_FIELDS
from registry.api.mixins import RejectUnknownFieldsMixin, RequiredEvenWhenPartialMixin
from registry.api.serializers import VisibleStaffField, WritablePlanField


class FallbackReviewSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """The review of a course at its review point: what the outcome was found to be (`finding`, set from the review
    list's rule when recorded, never sent), what was offered and what the patient took."""

    plan = WritablePlanField(help_text="The course reviewed (a treatment plan id); one review per course.")
    clinician = VisibleStaffField(required=False, help_text="Who reviewed (a user id); defaults to you.")
    offered = serializers.ListField(
        child=serializers.ChoiceField(choices=FallbackOffer.choices),
        min_length=1,
        max_length=len(FallbackOffer.values),
        help_text="What was offered, each once; `nothing` stands alone.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=REASONING_MAX)

    class Meta:
        model = FallbackReview
        fields = ["id", "plan", *REVIEW_FIELDS, "finding", "created_at"]
        read_only_fields = ["finding", "created_at"]
        extra_kwargs = {
            "offered_product": {
                "help_text": "The product of a repeat injection or another product: required when one was offered "
                "(a repeat is the course's own product), refused otherwise."
            },
            "path_taken": {
                "help_text": "One of the offers (`physiotherapy`, `repeat_injection`...), `declined` or `undecided`."
            },
        }


class FallbackReviewUpdateSerializer(RequiredEvenWhenPartialMixin, FallbackReviewSerializer):
    """A correction: every change is audited with its reason; the course and the finding stay."""

    required_even_when_partial = ("reason",)
    plan = serializers.PrimaryKeyRelatedField(read_only=True)
    reason = serializers.CharField(write_only=True, max_length=100, help_text="Why the review is being changed.")

    class Meta(FallbackReviewSerializer.Meta):
        fields = [*FallbackReviewSerializer.Meta.fields, "reason"]


class TrajectoryPointSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    koos_pain = serializers.FloatField(allow_null=True)
    oks_total = serializers.FloatField(allow_null=True)


class DueCourseSerializer(serializers.Serializer):
    """A course on the review list (consultations.reviews): past its review point, not reviewed yet."""

    plan = serializers.IntegerField(source="pk")
    patient = serializers.CharField(source="patient.registry_number", help_text="The patient's registry number.")
    clinic = serializers.IntegerField(source="patient.clinic_id")
    knee = serializers.CharField()
    product = serializers.CharField()
    injected_on = serializers.DateField(help_text="The course's first injection.")
    review_after_months = serializers.IntegerField(source="review_months")
    not_improved_rule = serializers.CharField(source="review_rule")
    review_on = serializers.DateField(help_text="The review point.")
    finding = serializers.ChoiceField(choices=ReviewFinding.choices)
    trajectory = serializers.SerializerMethodField()
    open_flags = serializers.IntegerField(help_text="Safety flags of the course still waiting for a decision.")
    adverse_events = serializers.IntegerField()

    def get_trajectory(self, course) -> list[dict]:
        from consultations.reviews import trajectory

        return TrajectoryPointSerializer(trajectory(course), many=True).data

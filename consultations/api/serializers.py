"""The consultation's API shape. The serializer checks types and vocabularies; the decision rules are the model's
(consultations.models) and the service's, reported per field (registry.api.exceptions turns them into 400s)."""

from rest_framework import serializers

from consultations import services
from consultations.choices import MULTIPLE_CHOICES
from consultations.models import REASONING_MAX, Consultation
from registry import selection
from registry.api.mixins import RejectUnknownFieldsMixin, RequiredEvenWhenPartialMixin
from registry.api.serializers import VisibleStaffField, WritablePatientField
from registry.choices import Pathology


def _codes(vocabulary, help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=vocabulary.choices),
        required=False,
        max_length=len(vocabulary.values),
        help_text=help_text,
    )


_LIST_HELP = {
    "previous_treatments": "Previous treatments for this knee; `none` stands alone.",
    "indications": "Indications found; `early_oa` only with a KL grade of 1-3.",
    "reasons_against": "Reasons against an injection: at least one when advising against; `kl_4` only with KL grade "
    "4; `malalignment` needs varus or valgus alignment with its degrees; `other` needs `reasoning`.",
    "alternatives_discussed": "Alternatives discussed, including care without an injection.",
    "fallback_offer": "Offered if the knee has not improved: required (at least one) when proceeding, refused "
    "otherwise; `nothing` stands alone.",
}


class ConsultationSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A consultation about one knee: the selection factors (as on an injection), the reasoning, the decision and,
    when proceeding, the fallback plan. `injection` is set when the injection is recorded from it."""

    patient = WritablePatientField()
    clinician = VisibleStaffField(required=False, help_text="Who saw the patient (a user id); defaults to you.")
    kl_compartments = _codes(selection.Compartment, "Compartments the KL grade describes, each once.")
    pathology = _codes(Pathology, "Co-existing pathology.")
    previous_treatments = _codes(MULTIPLE_CHOICES["previous_treatments"][0], _LIST_HELP["previous_treatments"])
    indications = _codes(MULTIPLE_CHOICES["indications"][0], _LIST_HELP["indications"])
    reasons_against = _codes(MULTIPLE_CHOICES["reasons_against"][0], _LIST_HELP["reasons_against"])
    alternatives_discussed = _codes(MULTIPLE_CHOICES["alternatives_discussed"][0], _LIST_HELP["alternatives_discussed"])
    fallback_offer = _codes(MULTIPLE_CHOICES["fallback_offer"][0], _LIST_HELP["fallback_offer"])
    reasoning = serializers.CharField(required=False, allow_blank=True, max_length=REASONING_MAX)
    acknowledged_warnings = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        write_only=True,
        max_length=50,
        help_text="Codes of unusual selection factors you confirm (`selection.<field>`); a write with an unusual "
        "value answers 400 naming the codes to send back.",
    )

    class Meta:
        model = Consultation
        fields = [
            "id",
            "patient",
            *services.CONSULTATION_FIELDS,
            "age_at_consultation",
            "injection",
            "created_at",
            "acknowledged_warnings",
        ]
        read_only_fields = ["age_at_consultation", "injection", "created_at"]
        extra_kwargs = {
            "bmi": {
                "coerce_to_string": False,
                "help_text": "kg/m²; required when `bmi_status` is `measured`, empty otherwise.",
            },
            "alignment_degrees": {
                "coerce_to_string": False,
                "help_text": "Degrees of deformity: required when `alignment` is varus or valgus, none when neutral.",
            },
            "immunosuppression_reason": {"help_text": "Required when `immunosuppression` is `yes`, empty otherwise."},
            "effusion_aspirated_ml": {"coerce_to_string": False},
            "proposed_product": {"help_text": "Required when `decision` is `proceed`; refused otherwise."},
            "referred_to": {"help_text": "Where to, when advising against or undecided; refused when proceeding."},
            "review_after_months": {"help_text": "1-24 (default 6); changed only when proceeding."},
        }


class ConsultationUpdateSerializer(RequiredEvenWhenPartialMixin, ConsultationSerializer):
    """A correction: every change is audited with its reason."""

    required_even_when_partial = ("reason",)
    patient = serializers.PrimaryKeyRelatedField(read_only=True)
    reason = serializers.CharField(write_only=True, max_length=100, help_text="Why the record is being changed.")

    class Meta(ConsultationSerializer.Meta):
        fields = [*ConsultationSerializer.Meta.fields, "reason"]

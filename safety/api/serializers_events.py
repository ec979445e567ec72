"""Adverse events in the API. Input is checked here for shape; the rules (grade 5 is fatal, injections are the
patient's...) are the model's and safety.services_events', so web, API and admin agree."""

from rest_framework import serializers

from registry.api.mixins import RejectUnknownFieldsMixin, RequiredEvenWhenPartialMixin
from registry.api.serializers import ScopedPrimaryKeyField, WritablePatientField
from registry.models import Injection
from registry.scoping import injections_for
from safety.choices_events import RELATEDNESS_HELP, SERIOUSNESS_FIELDS, EventStatus
from safety.models import Flag
from safety.models_events import AdverseEvent
from safety.selectors import flags_for

EDITABLE = [
    "source",
    "onset_on",
    "category",
    "description",
    "severity",
    *SERIOUSNESS_FIELDS,
    "causality",
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_on",
    "meddra_code",
    "meddra_version",
]


# Needed only with some values of other fields: the schema says when (model rules in AdverseEvent.clean()).
CONDITIONAL_HELP = {
    "outcome_on": "Date of the outcome: required when it is resolved (recovered, recovered with sequelae or fatal); "
    "on or after the onset, not in the future.",
    "relatedness": RELATEDNESS_HELP,
    "category": "Harvest-site categories (harvest_*) only for an event linked to a BMAC or ADSC injection.",
}


class WritableInjectionField(ScopedPrimaryKeyField):
    model = Injection

    def scoped(self, user):
        return injections_for(user, write=True)


class WritableFlagField(ScopedPrimaryKeyField):
    model = Flag

    def scoped(self, user):
        return flags_for(user, write=True)


class AdverseEventSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    patient = WritablePatientField(
        required=False, help_text="Patient id; when omitted, the patient of the `injections` (or of the `flag`)."
    )
    patient_registry_number = serializers.CharField(source="patient.registry_number", read_only=True)
    injections = WritableInjectionField(many=True, help_text="Ids of the injections the event followed.")
    flag = WritableFlagField(
        required=False, allow_null=True, help_text="Record from this flag: it becomes 'event recorded'."
    )
    status = serializers.ChoiceField(choices=EventStatus.choices, read_only=True)
    is_serious = serializers.BooleanField(read_only=True, help_text="Any of the six ICH E2A criteria is met.")

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "clinic",
            "patient",
            "patient_registry_number",
            "injections",
            "index_injection",
            "flag",
            *EDITABLE,
            "is_serious",
            "status",
            "recorded_by",
            "recorded_at",
            "assessed_by",
            "assessed_at",
            "version",
        ]
        read_only_fields = [
            "clinic",
            "index_injection",
            "recorded_by",
            "recorded_at",
            "assessed_by",
            "assessed_at",
            "version",
        ]
        extra_kwargs = {
            "source": {
                "required": False,
                "help_text": "Who reported it; when omitted, `rule` for an event recorded from a flag, else "
                "`clinician`.",
            },
            **{name: {"help_text": text} for name, text in CONDITIONAL_HELP.items()},
        }


class AdverseEventCorrectSerializer(
    RequiredEvenWhenPartialMixin, RejectUnknownFieldsMixin, serializers.ModelSerializer
):
    required_even_when_partial = ("reason", "version")
    injections = WritableInjectionField(many=True, required=False)
    reason = serializers.CharField(max_length=500, help_text="Why the event is corrected (kept in its history).")
    version = serializers.IntegerField(
        min_value=1, help_text="The version you loaded: if the event changed since, 409 and nothing is saved."
    )

    class Meta:
        model = AdverseEvent
        fields = ["injections", *EDITABLE, "reason", "version"]
        extra_kwargs = {
            name: {"required": False, **({"help_text": CONDITIONAL_HELP[name]} if name in CONDITIONAL_HELP else {})}
            for name in EDITABLE
        }


class VersionConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField()

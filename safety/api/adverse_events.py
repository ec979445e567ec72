"""Adverse events over the API: list (filtered, serious first), record, correct with a reason and the version
loaded. Scoped by registry.scoping; no PUT (no blanking by omission), no DELETE (nothing clinical is deleted).
Input is checked by the serializers for shape; the rules (grade 5 is fatal, injections are the patient's...) are
the model's and safety.services', so web, API and admin agree.
"""

from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from registry.api.filters import BooleanFilter, IntegerFilter, RegistryFilterSet
from registry.api.mixins import (
    ID_IN_URL,
    RejectUnknownFieldsMixin,
    RequiredEvenWhenPartialMixin,
    WriteScopedObjectMixin,
)
from registry.api.serializers import ScopedPrimaryKeyField, WritablePatientField
from registry.choices import Product
from registry.models import Injection
from registry.scoping import injections_for
from safety import selectors, services
from safety.choices import (
    OPEN_OUTCOMES,
    RELATEDNESS_HELP,
    RESOLVED_OUTCOMES,
    Causality,
    EventCategory,
    EventStatus,
)
from safety.models import AdverseEvent, Flag
from safety.selectors import flags_for
from safety.services import EVENT_FIELDS

EDITABLE = list(EVENT_FIELDS)  # the service owns the tuple


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


@extend_schema_view(
    list=extend_schema(summary="Adverse events of the user's clinics, serious first"),
    create=extend_schema(summary="Record an adverse event (directly, or from a flag)"),
    partial_update=extend_schema(
        summary="Correct an adverse event: `reason` and the `version` you loaded are required",
        request=AdverseEventCorrectSerializer,
        responses={200: AdverseEventSerializer, 409: VersionConflictSerializer},
    ),
)
class AdverseEventViewSet(
    WriteScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = AdverseEventSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = AdverseEventFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            selectors.events_for(self.request.user)
            .select_related("patient")
            .prefetch_related("injections")
            .order_by(*selectors.LIST_ORDER)
        )

    def get_write_queryset(self):
        return selectors.events_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        flag = data.pop("flag", None)
        if flag is not None:
            event = services.flag_record_event(flag=flag, by=request.user, data=data)
        else:
            event = services.adverse_event_record(by=request.user, data=data)
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        event = self.get_object()
        serializer = AdverseEventCorrectSerializer(
            event, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason, version = data.pop("reason"), data.pop("version")
        try:
            event = services.adverse_event_correct(
                event=event, by=request.user, data=data, reason=reason, expected_version=version
            )
        except services.VersionConflict as conflict:
            return Response(
                {"detail": str(conflict), "current_version": conflict.current_version},
                status=status.HTTP_409_CONFLICT,
            )
        event = self.get_queryset().get(pk=event.pk)
        return Response(self.get_serializer(event).data)

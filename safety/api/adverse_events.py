"""Adverse events over the API: list (filtered, serious first), record, correct with a reason and the version
loaded. Scoped by registry.scoping; no PUT (no blanking by omission), no DELETE (nothing clinical is deleted).
Input is checked by the serializers for shape; the rules (grade 5 is fatal, injections are the patient's...) are
the model's and safety.services', so web, API and admin agree.
"""

import datetime as dt

from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
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
from safety.models import AdverseEvent, Flag, RegulatoryReport
from safety.selectors import flags_for
from safety.services import EVENT_FIELDS

EDITABLE = list(EVENT_FIELDS)  # the service owns the tuple


# Needed only with some values of other fields: the schema says when (model rules in AdverseEvent.clean()).
CONDITIONAL_HELP = {
    "outcome_on": "Date of the outcome: required when it is resolved (recovered, recovered with sequelae or fatal); "
    "on or after the onset, not in the future.",
    "relatedness": RELATEDNESS_HELP,
    "category": "Harvest-site categories (harvest_*) only for an event linked to a BMAC or ADSC injection.",
    "severity": "CTCAE grade. Septic arthritis below grade 3 answers 400 until `acknowledged_warnings` holds "
    "`event.septic_arthritis_grade`.",
    "dechallenge": "Only for an injection of a staged plan (more than one injection planned).",
    "dechallenge_abated": "Only when `dechallenge` is `yes`.",
    "rechallenge": "Only for an injection of a staged plan (more than one injection planned).",
    "rechallenge_recurred": "Only when `rechallenge` is `yes`.",
    "aware_on": "When the clinic first knew (day 0 of the SUSAR clocks); today when omitted. Not before the onset.",
}
_ACKNOWLEDGED_HELP = (
    "Codes of warnings you confirm (a 400 lists those still to confirm under this key): "
    "`event.septic_arthritis_grade` for septic arthritis below CTCAE grade 3. The confirmation is kept in the audit "
    "trail."
)


def _acknowledged_field():
    return serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        write_only=True,
        max_length=10,
        help_text=_ACKNOWLEDGED_HELP,
    )


class RegulatoryReportSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = RegulatoryReport
        fields = ["id", "event", "route", "kind", "submitted_on", "reference", "notes", "submitted_by", "recorded_at"]
        read_only_fields = ["event", "submitted_by", "recorded_at"]
        extra_kwargs = {"notes": {"help_text": "Required when `route` is `other`: say where the report went."}}


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
    causality = serializers.ChoiceField(
        choices=Causality.choices,
        read_only=True,
        help_text="Derived: the stronger of `causality_product` and `causality_procedure` (what analyses use).",
    )
    assessed_jointly = serializers.BooleanField(
        read_only=True,
        help_text="True for events recorded before the split (2026-12): one assessment covered product and "
        "procedure, copied to both.",
    )
    susar_candidate = serializers.BooleanField(
        source="is_susar_candidate",
        read_only=True,
        help_text="Serious, unexpected, at least possibly related (product or procedure), after a study product.",
    )
    susar_report_due_on = serializers.SerializerMethodField(
        help_text="For a SUSAR candidate: the last day of its ICH E2A clock (7 days from `aware_on` if fatal or "
        "life-threatening, else 15); null otherwise."
    )
    regulatory_reports = RegulatoryReportSerializer(many=True, read_only=True)
    acknowledged_warnings = _acknowledged_field()

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
            "causality",
            "assessed_jointly",
            "is_serious",
            "status",
            "susar_candidate",
            "susar_report_due_on",
            "regulatory_reports",
            "acknowledged_warnings",
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

    def get_susar_report_due_on(self, event) -> dt.date | None:
        return event.susar_report_due_on if event.is_susar_candidate else None


class AdverseEventCorrectSerializer(
    RequiredEvenWhenPartialMixin, RejectUnknownFieldsMixin, serializers.ModelSerializer
):
    required_even_when_partial = ("reason", "version")
    injections = WritableInjectionField(many=True, required=False)
    acknowledged_warnings = _acknowledged_field()
    reason = serializers.CharField(max_length=500, help_text="Why the event is corrected (kept in its history).")
    version = serializers.IntegerField(
        min_value=1, help_text="The version you loaded: if the event changed since, 409 and nothing is saved."
    )

    class Meta:
        model = AdverseEvent
        fields = ["injections", *EDITABLE, "reason", "version", "acknowledged_warnings"]
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
    causality = filters.MultipleChoiceFilter(
        choices=Causality.choices,
        help_text="The derived causality (stronger of product and procedure). Repeat for several.",
    )
    causality_product = filters.MultipleChoiceFilter(choices=Causality.choices, help_text="Repeat for several.")
    causality_procedure = filters.MultipleChoiceFilter(choices=Causality.choices, help_text="Repeat for several.")
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
            "causality_product",
            "causality_procedure",
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
            .prefetch_related("injections", "regulatory_reports")
            .order_by(*selectors.LIST_ORDER)
        )

    def get_write_queryset(self):
        return selectors.events_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        flag = data.pop("flag", None)
        acknowledged = data.pop("acknowledged_warnings", [])
        if flag is not None:
            event = services.flag_record_event(
                flag=flag, by=request.user, data=data, acknowledged_warnings=acknowledged
            )
        else:
            event = services.adverse_event_record(by=request.user, data=data, acknowledged_warnings=acknowledged)
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        event = self.get_object()
        serializer = AdverseEventCorrectSerializer(
            event, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason, version = data.pop("reason"), data.pop("version")
        acknowledged = data.pop("acknowledged_warnings", [])
        try:
            event = services.adverse_event_correct(
                event=event,
                by=request.user,
                data=data,
                reason=reason,
                expected_version=version,
                acknowledged_warnings=acknowledged,
            )
        except services.VersionConflict as conflict:
            return Response(
                {"detail": str(conflict), "current_version": conflict.current_version},
                status=status.HTTP_409_CONFLICT,
            )
        event = self.get_queryset().get(pk=event.pk)
        return Response(self.get_serializer(event).data)

    @extend_schema(
        methods=["GET"],
        summary="Regulatory reports made for an adverse event",
        responses=RegulatoryReportSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a regulatory report made (an initial report stops the SUSAR clock)",
        request=RegulatoryReportSerializer,
        responses={201: RegulatoryReportSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="reports", pagination_class=None, filterset_class=None)
    def reports(self, request, pk=None):
        event = self.get_object()  # read scope: 404 outside the user's clinics; POST: 403 for a read-only role
        if request.method == "GET":
            reports = event.regulatory_reports.order_by("submitted_on", "id")
            return Response(RegulatoryReportSerializer(reports, many=True).data)
        serializer = RegulatoryReportSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        report = services.regulatory_report_record(event=event, by=request.user, data=dict(serializer.validated_data))
        return Response(RegulatoryReportSerializer(report).data, status=status.HTTP_201_CREATED)

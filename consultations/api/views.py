"""Consultations API: scoped querysets (consultations.selectors), writes through consultations.services; nothing
clinical is deleted, so there is no DELETE, and no PUT (a full replace invites accidental blanking)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from consultations.api.serializers import ConsultationSerializer, ConsultationUpdateSerializer
from consultations.selectors import consultation_expectation, consultations_for
from consultations.services import consultation_record, consultation_update
from registry.api.mixins import ID_IN_URL, WriteScopedObjectMixin


@extend_schema_view(
    list=extend_schema(summary="Consultations of the user's clinics' patients"),
    create=extend_schema(summary="Record a consultation (proceed, advise against or undecided)"),
    partial_update=extend_schema(
        summary="Correct a consultation record (audited with a reason)",
        request=ConsultationUpdateSerializer,
        responses=ConsultationSerializer,
    ),
)
class ConsultationViewSet(
    WriteScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ConsultationSerializer
    lookup_value_regex = ID_IN_URL
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return consultations_for(self.request.user).order_by("-consulted_on", "-id")

    def get_write_queryset(self):
        return consultations_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        patient = data.pop("patient")
        acknowledged = data.pop("acknowledged_warnings", [])
        consultation = consultation_record(
            patient=patient, by=request.user, data=data, acknowledged_warnings=acknowledged
        )
        return Response(self.get_serializer(consultation).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        consultation = self.get_object()
        serializer = ConsultationUpdateSerializer(
            consultation, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason")
        acknowledged = data.pop("acknowledged_warnings", [])
        consultation = consultation_update(
            consultation=consultation, by=request.user, data=data, reason=reason, acknowledged_warnings=acknowledged
        )
        return Response(self.get_serializer(consultation).data)

    @extend_schema(
        summary="Knees like mine: what comparable knees did after each option",
        description=(
            "Knees of the same KL band and age band treated in the user's clinics, for the proposed product and "
            "every other product, at the follow-up of the consultation's review point: completion, improvement by "
            "the MCID, no change or worse, OMERACT-OARSI responders, typical change, adverse events per 100 "
            "injections and further treatment, each with its 95% interval. Small numbers are protected as in the "
            "exports (no figure under the minimum, none derivable by subtraction); too few knees gives "
            '"enough": false and no figures.'
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def expectation(self, request, pk=None):
        return Response(consultation_expectation(self.get_object(), request.user))

"""Registry API: clinics, patients and injections. Every queryset starts in registry.scoping and every write goes
through registry.services; nothing clinical is deleted, so there is no DELETE."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from registry.api.filters import ClinicFilter, InjectionFilter, PatientFilter
from registry.api.mixins import ID_IN_URL, WriteScopedObjectMixin
from registry.api.serializers import (
    ClinicSerializer,
    InjectionSerializer,
    InjectionUpdateSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
    WithdrawConsentSerializer,
)
from registry.scoping import clinics_for, injections_for, is_administrator, patients_for
from registry.services import (
    injection_record,
    injection_update,
    patient_enrol,
    patient_update,
    patient_withdraw_consent,
)

# No PUT (a full replace invites accidental blanking of clinical fields) and no DELETE.
READ_CREATE_PATCH = ["get", "post", "patch", "head", "options"]


class ClinicPermission(BasePermission):
    """Staff read their own clinics; only administrators add clinics (even one with no clinic yet)."""

    message = "Only administrators can add clinics."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if is_administrator(user):
            return True
        return request.method in SAFE_METHODS and clinics_for(user).exists()


@extend_schema_view(
    list=extend_schema(summary="Clinics the user works in (administrators: all)"),
    create=extend_schema(summary="Add a clinic (administrators only)"),
)
class ClinicViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ClinicSerializer
    lookup_value_regex = ID_IN_URL
    permission_classes = [ClinicPermission]
    filterset_class = ClinicFilter

    def get_queryset(self):
        return clinics_for(self.request.user).order_by("name", "id")


@extend_schema_view(
    list=extend_schema(summary="Patients of the user's clinics"),
    create=extend_schema(summary="Enrol a patient"),
    partial_update=extend_schema(
        summary="Correct a patient's details", request=PatientUpdateSerializer, responses=PatientSerializer
    ),
    withdraw_consent=extend_schema(
        summary="Withdraw the patient's consent: all contact stops",
        request=WithdrawConsentSerializer,
        responses=PatientSerializer,
    ),
)
class PatientViewSet(WriteScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PatientSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = PatientFilter
    http_method_names = READ_CREATE_PATCH

    def get_queryset(self):
        return patients_for(self.request.user).order_by("-created_at", "-id")

    def get_write_queryset(self):
        return patients_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        clinic = data.pop("clinic")
        patient = patient_enrol(clinic=clinic, by=request.user, data=data)
        return Response(self.get_serializer(patient).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        patient = self.get_object()
        serializer = PatientUpdateSerializer(
            patient, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        patient = patient_update(patient=patient, by=request.user, data=dict(serializer.validated_data))
        return Response(self.get_serializer(patient).data)

    @action(detail=True, methods=["post"], url_path="withdraw-consent")
    def withdraw_consent(self, request, *args, **kwargs):
        patient = self.get_object()
        serializer = WithdrawConsentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        patient = patient_withdraw_consent(patient=patient, by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(patient).data)


def _components(validated: list | None) -> list[dict] | None:
    return None if validated is None else [dict(component) for component in validated]


@extend_schema_view(
    list=extend_schema(summary="Injections of the user's clinics' patients"),
    create=extend_schema(summary="Record an injection (given or planned) with its protocol"),
    partial_update=extend_schema(
        summary="Correct an injection record (audited with a reason)",
        request=InjectionUpdateSerializer,
        responses=InjectionSerializer,
    ),
)
class InjectionViewSet(
    WriteScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = InjectionSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = InjectionFilter
    http_method_names = READ_CREATE_PATCH

    def get_queryset(self):
        return (
            injections_for(self.request.user)
            .select_related("plan")
            .prefetch_related("components")
            .order_by("-injected_on", "-id")
        )

    def get_write_queryset(self):
        return injections_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        patient = data.pop("patient")
        plan = data.pop("plan")
        planned, repeat_of = plan["planned_injections"], plan.get("repeat_of")
        number = data.pop("number_in_plan", 1)
        acknowledged = data.pop("acknowledged_warnings", [])
        components = _components(data.pop("components", None))
        injection = injection_record(
            patient=patient,
            by=request.user,
            data=data,
            components=components,
            number_in_plan=number,
            planned_injections=planned,
            acknowledged_warnings=acknowledged,
            repeat_of=repeat_of,
        )
        return Response(self.get_serializer(injection).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        injection = self.get_object()
        serializer = InjectionUpdateSerializer(
            injection, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason")
        acknowledged = data.pop("acknowledged_warnings", [])
        components = _components(data.pop("components", None))
        injection = injection_update(
            injection=injection,
            by=request.user,
            data=data,
            reason=reason,
            components=components,
            acknowledged_warnings=acknowledged,
        )
        return Response(self.get_serializer(injection).data)

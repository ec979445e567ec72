"""Adverse events over the API: list (filtered, serious first), record, correct with a reason and the version
loaded. Scoped by registry.scoping; no PUT (no blanking by omission), no DELETE (nothing clinical is deleted)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from registry.api.mixins import ID_IN_URL, WriteScopedObjectMixin
from safety import selectors_events, services_events
from safety.api.filters_events import AdverseEventFilter
from safety.api.serializers_events import (
    AdverseEventCorrectSerializer,
    AdverseEventSerializer,
    VersionConflictSerializer,
)


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
            selectors_events.events_for(self.request.user)
            .select_related("patient")
            .prefetch_related("injections")
            .order_by(*selectors_events.LIST_ORDER)
        )

    def get_write_queryset(self):
        return selectors_events.events_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        flag = data.pop("flag", None)
        if flag is not None:
            event = services_events.flag_record_event(flag=flag, by=request.user, data=data)
        else:
            event = services_events.adverse_event_record(by=request.user, data=data)
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
            event = services_events.adverse_event_correct(
                event=event, by=request.user, data=data, reason=reason, expected_version=version
            )
        except services_events.VersionConflict as conflict:
            return Response(
                {"detail": str(conflict), "current_version": conflict.current_version},
                status=status.HTTP_409_CONFLICT,
            )
        event = self.get_queryset().get(pk=event.pk)
        return Response(self.get_serializer(event).data)

"""Outcomes API: follow-ups with their scores and derived measures (read only), and the scoring function."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomes import selectors
from outcomes.api.filters import FollowUpFilter
from outcomes.api.serializers import FollowUpSerializer, InstrumentSerializer, ScoreAnswersSerializer
from outcomes.instruments import all_instruments, current_version, get_instrument
from outcomes.scoring import score
from registry.api.mixins import ID_IN_URL
from registry.scoping import clinics_for


class IsClinicStaff(BasePermission):
    """Signed in with a role in some clinic (auditors included: scoring reads nothing and changes nothing)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and clinics_for(user).exists())


@extend_schema_view(
    list=extend_schema(summary="Follow-ups of the plans the user may see, with scores once completed"),
    retrieve=extend_schema(summary="One follow-up"),
)
class FollowUpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FollowUpSerializer
    lookup_value_regex = ID_IN_URL
    filterset_class = FollowUpFilter

    def get_queryset(self):
        return (
            selectors.follow_ups_for(self.request.user)
            .select_related("submission", "plan")
            .order_by("patient_id", "plan_id", "due_on", "id")
        )

    def get_serializer(self, *args, **kwargs):
        # Derived measures need each plan's baseline: fetched once for the whole page, not per row.
        if args:
            rows = args[0] if kwargs.get("many") else [args[0]]
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["derived"] = selectors.derived_for(rows)
        return super().get_serializer(*args, **kwargs)


# 404 for an unknown instrument: the code is part of the address, and no such resource exists. A bad answer is
# a 400 whose message names the item, exactly as outcomes.scoring.score raises it.
@extend_schema(
    summary="Score answers with the registry's scoring rules",
    request=ScoreAnswersSerializer,
    responses={
        200: OpenApiResponse(
            response={"type": "object", "additionalProperties": {"type": "number", "nullable": True}},
            description='Scores by scale, e.g. KOOS {"pain": 75.0, ...}; null where too many items are missing.',
        ),
        400: OpenApiResponse(description="An unknown item, or an out-of-range or non-numeric score."),
        404: OpenApiResponse(description="No such instrument (or version)."),
    },
)
class InstrumentScoreView(APIView):
    permission_classes = [IsClinicStaff]

    def post(self, request, code: str):
        try:
            instrument = get_instrument(code, request.data.get("version") if hasattr(request.data, "get") else None)
        except ValueError as exc:
            raise NotFound(str(exc)) from exc
        serializer = ScoreAnswersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = score(instrument.code, serializer.validated_data["answers"], instrument.version)
        except ValueError as exc:
            raise ValidationError({"answers": [str(exc)]}) from exc
        return Response(result)


@extend_schema(summary="Instruments and versions the registry scores", responses=InstrumentSerializer(many=True))
class InstrumentListView(APIView):
    permission_classes = [IsClinicStaff]

    def get(self, request):
        rows = [
            {
                "code": i.code,
                "version": i.version,
                "current": i.version == current_version(i.code),
                "name": i.name,
                "items": list(i.item_codes),
                "scales": [s.code for s in i.scoring.scales],
                "scoring_rule": i.scoring.rule,
                "wording": i.wording,
            }
            for i in all_instruments()
        ]
        return Response(InstrumentSerializer(rows, many=True).data)

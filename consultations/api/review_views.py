"""Fallback reviews API: scoped querysets (consultations.reviews), writes through consultations.review_services;
nothing clinical is deleted, so there is no DELETE, and no PUT. ``due/`` is the review list as JSON."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from consultations import reviews
from consultations.api.review_serializers import (
    DueCourseSerializer,
    FallbackReviewSerializer,
    FallbackReviewUpdateSerializer,
)
from consultations.choices import ReviewFinding
from consultations.review_services import correct_review, record_review
from registry.api.mixins import ID_IN_URL, MAX_ID, WriteScopedObjectMixin

FILTERS = [
    OpenApiParameter("finding", OpenApiTypes.STR, enum=ReviewFinding.values, description="Only this finding."),
    OpenApiParameter("clinic", OpenApiTypes.INT, description="Only this clinic's courses (one of yours)."),
]


class _Filters(serializers.Serializer):
    finding = serializers.ChoiceField(choices=ReviewFinding.choices, required=False)
    clinic = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


@extend_schema_view(
    list=extend_schema(summary="Fallback reviews of the user's clinics' courses", parameters=FILTERS),
    retrieve=extend_schema(summary="One fallback review"),
    create=extend_schema(summary="Record the review of a course past its review point (the finding is the rule's)"),
    partial_update=extend_schema(
        summary="Correct a review (audited with a reason)",
        request=FallbackReviewUpdateSerializer,
        responses=FallbackReviewSerializer,
    ),
)
class FallbackReviewViewSet(
    WriteScopedObjectMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = FallbackReviewSerializer
    lookup_value_regex = ID_IN_URL
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _filters(self) -> dict:
        # A plain dict, not the QueryDict: DRF skips a blank value of an HTML form, and "?clinic=" must be a 400.
        given = _Filters(data=self.request.query_params.dict())
        given.is_valid(raise_exception=True)
        return dict(given.validated_data)

    def get_queryset(self):
        if self.action != "list":
            return reviews.reviews_for(self.request.user).order_by("-reviewed_on", "-id")
        filters = self._filters()
        return reviews.reviewed(self.request.user, clinic_id=filters.get("clinic"), finding=filters.get("finding"))

    def get_write_queryset(self):
        return reviews.reviews_for(self.request.user, write=True)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        plan = data.pop("plan")
        review = record_review(user=request.user, plan=plan, data=data)
        return Response(self.get_serializer(review).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        review = self.get_object()
        serializer = FallbackReviewUpdateSerializer(
            review, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason")
        review = correct_review(user=request.user, review=review, data=data, reason=reason)
        return Response(self.get_serializer(review).data)

    @extend_schema(
        summary="The review list: courses past their review point, not improved or with the follow-up missing",
        description=(
            "Courses of the user's clinics past their review point (the consultation's review after months, 6 "
            'without one) whose outcome at that follow-up meets the plan\'s "not improved" rule (reaching the MCID '
            "exactly counts as improved), whose follow-up is missing, or whose rule is the patient's judgement "
            "(`ask_patient`: no questionnaire asks it), and not yet reviewed; longest waiting first."
        ),
        parameters=FILTERS,
        responses=DueCourseSerializer(many=True),
    )
    @action(detail=False, methods=["get"], serializer_class=DueCourseSerializer)
    def due(self, request):
        filters = self._filters()
        courses = reviews.review_list(
            request.user, today=timezone.localdate(), clinic_id=filters.get("clinic"), finding=filters.get("finding")
        )
        page = self.paginate_queryset(courses)
        return self.get_paginated_response(DueCourseSerializer(page, many=True).data)

from django.urls import path
from rest_framework.routers import SimpleRouter

from outcomes.api.comparisons import ReminderComparisonViewSet
from outcomes.api.summary import OutcomesSummaryView
from outcomes.api.views import FollowUpViewSet, InstrumentListView, InstrumentScoreView

# SimpleRouter: several apps share /api/v1/, so none of them may claim its root.
router = SimpleRouter()
router.register("follow-ups", FollowUpViewSet, basename="follow-up")
router.register("reminder-comparisons", ReminderComparisonViewSet, basename="reminder-comparison")

app_name = "outcomes-api"
urlpatterns = [
    *router.urls,
    path("instruments/", InstrumentListView.as_view(), name="instrument-list"),
    path("instruments/<str:code>/score/", InstrumentScoreView.as_view(), name="instrument-score"),
    # The dashboard's numbers.
    path("outcomes/summary/", OutcomesSummaryView.as_view(), name="outcomes-summary"),
]

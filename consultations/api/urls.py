from rest_framework.routers import SimpleRouter

from consultations.api.review_views import FallbackReviewViewSet
from consultations.api.views import ConsultationViewSet

# SimpleRouter: several apps' routers share /api/v1/, so none of them may claim its root.
router = SimpleRouter()
router.register("consultations", ConsultationViewSet, basename="consultation")
router.register("reviews", FallbackReviewViewSet, basename="review")

app_name = "consultations-api"
urlpatterns = router.urls

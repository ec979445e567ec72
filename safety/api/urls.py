from rest_framework.routers import SimpleRouter

from safety.api.views import FlagViewSet
from safety.api.views_events import AdverseEventViewSet

router = SimpleRouter()
router.register("flags", FlagViewSet, basename="flag")
router.register("adverse-events", AdverseEventViewSet, basename="adverse-event")

urlpatterns = router.urls

from rest_framework.routers import SimpleRouter

from safety.api.adverse_events import AdverseEventViewSet
from safety.api.flags import FlagViewSet

router = SimpleRouter()
router.register("flags", FlagViewSet, basename="flag")
router.register("adverse-events", AdverseEventViewSet, basename="adverse-event")

urlpatterns = router.urls

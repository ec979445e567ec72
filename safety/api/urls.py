from rest_framework.routers import SimpleRouter

from safety.api.views import FlagViewSet

router = SimpleRouter()
router.register("flags", FlagViewSet, basename="flag")

urlpatterns = router.urls

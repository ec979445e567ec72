from rest_framework.routers import SimpleRouter

from notifications.api.views import MessageViewSet

router = SimpleRouter()
router.register("messages", MessageViewSet, basename="message")

app_name = "notifications-api"
urlpatterns = router.urls

from rest_framework.routers import SimpleRouter

from registry.api.views import ClinicViewSet, InjectionViewSet, PatientViewSet

# SimpleRouter: several apps' routers share /api/v1/, so none of them may claim its root.
router = SimpleRouter()
router.register("clinics", ClinicViewSet, basename="clinic")
router.register("patients", PatientViewSet, basename="patient")
router.register("injections", InjectionViewSet, basename="injection")

app_name = "registry-api"
urlpatterns = router.urls

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

api_v1 = [
    path("", include("registry.api.urls")),
    path("", include("outcomes.api.urls")),
    path("", include("safety.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("consultations.api.urls")),
]

urlpatterns = [
    path("", include("registry.urls")),
    path("", include("outcomes.urls")),
    path("", include("safety.urls")),
    path("", include("notifications.urls")),
    path("consultations/", include("consultations.urls")),
    path("copy/", include("consultations.urls_patient")),  # the patient's copy of a consultation: no login
    # Sign-in with a second factor, API tokens (accounts/); the audit trail for auditors.
    path("", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
]

# The site's layout for staff, plain words for patients on /q/ and /unsubscribe/, JSON under /api/ (the schema
# documents {"detail": ...}, also for an address no route matches). registry/views_errors.py.
handler400 = "registry.views_errors.bad_request"
handler403 = "registry.views_errors.permission_denied"
handler404 = "registry.views_errors.page_not_found"
handler500 = "registry.views_errors.server_error"

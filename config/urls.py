from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("registry.api.urls")),
    path("", include("outcomes.api.urls")),
    path("", include("safety.api.urls")),
    path("", include("notifications.api.urls")),
]

urlpatterns = [
    path("", include("registry.urls")),
    path("", include("outcomes.urls")),
    path("", include("safety.urls")),
    path("", include("notifications.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

"""Sign-in with a second factor, and API tokens. No namespace: the names ("login", "two-factor-verify", ...) are
the ones Django's auth settings and every template already use."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/two-factor/verify/", views.verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", views.setup, name="two-factor-setup"),
    path("accounts/two-factor/backup-codes/", views.backup_codes, name="two-factor-backup-codes"),
    path("accounts/api-token/", views.api_token, name="api-token"),
    path("clinics/<int:pk>/two-factor/", views.clinic_two_factor, name="clinic-two-factor"),
]

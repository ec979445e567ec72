from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in, the second factor, API tokens: above registry (clinics, roles) and audit (the access log)."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.auth import mark_session_start

        user_logged_in.connect(mark_session_start, dispatch_uid="accounts.mark_session_start")

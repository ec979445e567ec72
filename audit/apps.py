from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from registry.auth import mark_session_start

        user_logged_in.connect(mark_session_start, dispatch_uid="audit.mark_session_start")

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import conf, heartbeat, receivers  # noqa: F401 - domain signals below us; Celery's task signals

        conf.get()  # a malformed NOTIFICATIONS_* setting fails at start-up, not at the first sweep

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import conf, receivers  # noqa: F401 - connects to the domain signals below us

        conf.get()  # a malformed NOTIFICATIONS_* setting fails at start-up, not at the first sweep

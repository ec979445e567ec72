from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import checks, conf, heartbeat, receivers  # noqa: F401 - domain signals; task signals; checks

        conf.get()  # a malformed NOTIFICATIONS_* setting fails at start-up, not at the first sweep

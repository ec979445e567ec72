from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = "Safety flags"

    def ready(self) -> None:
        # The SAFETY_FLAG_RULES system check; safety's answers to outcomes' domain signals.
        from safety import checks, receivers  # noqa: F401

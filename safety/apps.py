from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = "Safety flags"

    def ready(self) -> None:
        from safety import checks  # noqa: F401 - registers the SAFETY_FLAG_RULES system check

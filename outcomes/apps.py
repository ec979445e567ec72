from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        from outcomes import receivers  # noqa: F401 - connects to the registry's domain signals
        from outcomes.schedule import safety_check_days

        safety_check_days()  # a malformed SAFETY_CHECK_WINDOWS stops start-up, not the first injection

from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        from django.conf import settings

        from outcomes import receivers  # noqa: F401 - connects to the registry's domain signals
        from outcomes.schedule import check_timepoints_by_product, safety_check_days

        # A malformed follow-up schedule stops the registry at start-up, not at the next injection.
        safety_check_days()
        check_timepoints_by_product(settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT)

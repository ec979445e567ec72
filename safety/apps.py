from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = "Safety flags"

    def ready(self) -> None:
        from outcomes.analysis import adverse_events, trajectory
        from safety import checks, receivers  # noqa: F401 - the SAFETY_FLAG_RULES system check; outcomes' signals
        from safety.outcome_sections import adverse_events_by_product, trajectory_flags

        # Outcomes' dashboard and trajectory show safety's data through these selectors (outcomes cannot import
        # safety: imports point down).
        adverse_events.provide(adverse_events_by_product)
        trajectory.provide_flags(trajectory_flags)

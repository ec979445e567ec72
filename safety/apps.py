from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = "Safety flags"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from outcomes.analysis import adverse_events, trajectory
        from safety import checks, receivers  # noqa: F401 - the SAFETY_FLAG_RULES system check; outcomes' signals
        from safety.outcome_sections import adverse_events_by_product, trajectory_flags
        from safety.roles import safety_roles_ensure
        from safety.sqlite_triggers import adverse_event_triggers_ensure

        post_migrate.connect(safety_roles_ensure, sender=self, dispatch_uid="safety.roles")
        post_migrate.connect(adverse_event_triggers_ensure, sender=self, dispatch_uid="safety.sqlite_triggers")

        # Outcomes' dashboard and trajectory show safety's data through these selectors (outcomes cannot import
        # safety: imports point down).
        adverse_events.provide(adverse_events_by_product)
        trajectory.provide_flags(trajectory_flags)

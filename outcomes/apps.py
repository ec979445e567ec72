from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_migrate, pre_migrate

        from outcomes import receivers  # noqa: F401 - connects to the registry's domain signals
        from outcomes.schedule import check_timepoints_by_product, safety_check_days
        from outcomes.sqlite_triggers import plan_outcome_triggers_ensure, plan_outcome_triggers_set_aside

        pre_migrate.connect(plan_outcome_triggers_set_aside, sender=self, dispatch_uid="outcomes.sqlite_triggers")
        post_migrate.connect(plan_outcome_triggers_ensure, sender=self, dispatch_uid="outcomes.sqlite_triggers")

        # A malformed follow-up schedule stops the registry at start-up, not at the next injection.
        safety_check_days()
        check_timepoints_by_product(settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT)

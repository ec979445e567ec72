"""The adverse-event plan-outcome triggers (safety 0007) put back after a migrate on SQLite; see
outcomes.sqlite_triggers."""

from outcomes.sqlite_triggers import triggers_restore

MIGRATION = "safety.migrations.0007_adverse_event_queues_plan_outcome"


def adverse_event_triggers_ensure(sender, *, using="default", **kwargs) -> None:
    """post_migrate receiver for the safety app."""
    triggers_restore(MIGRATION, ["safety_adverseevent", "registry_injection", "outcomes_planoutcomequeue"], using=using)

"""Running migrations inside a test, as `manage.py migrate` runs them.

MigrationExecutor sends no pre_migrate or post_migrate, so the SQLite plan-outcome triggers (outcomes.sqlite_triggers)
are set aside and put back here: a table rebuild on SQLite fails while a trigger on another table names the table.
On PostgreSQL both steps do nothing.
"""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from outcomes.sqlite_triggers import plan_outcome_triggers_ensure, triggers_drop
from safety.sqlite_triggers import adverse_event_triggers_ensure


def migrated_to(targets) -> MigrationExecutor:
    """An executor that has migrated the test database to `targets` (its loader shows the project's state there)."""
    triggers_drop()
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


def migrated_to_latest() -> MigrationExecutor:
    executor = migrated_to(MigrationExecutor(connection).loader.graph.leaf_nodes())
    plan_outcome_triggers_ensure(None)
    adverse_event_triggers_ensure(None)
    return executor

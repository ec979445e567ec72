"""The plan-outcome triggers on SQLite: out of the way while migrations run, put back after.

SQLite has no ALTER COLUMN, so Django rebuilds a table (create, copy, drop, rename): the drop takes the table's own
triggers with it, and the rename fails outright while a trigger on another table names the dropped one ("error in
trigger registry_patient_queue_plan_outcome_insert: no such table"). PostgreSQL has neither problem. The laptop demo
runs on SQLite, so before a migrate that has work to do the triggers are dropped, and after every migrate those of
the migrations that created them (outcomes 0003, safety 0007) are re-run with IF NOT EXISTS. If any were missing,
every plan is queued once, so the dashboard's summary catches up on whatever the migrations changed.
"""

import importlib

from django.db import connections

QUEUE_ALL_PLANS = "INSERT INTO outcomes_planoutcomequeue (plan_id) SELECT id FROM registry_treatmentplan"


class _TriggersOnly:
    """Stands in for the schema editor a migration's create_triggers expects: runs only its CREATE TRIGGERs, each
    IF NOT EXISTS."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql, params=()):
        if sql.startswith("CREATE TRIGGER "):
            with self.connection.cursor() as cursor:
                cursor.execute(sql.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1), params or None)


TRIGGER_NAMES = "%_queue_plan_outcome_%"


def triggers_drop(*, using: str = "default") -> None:
    """Drop every plan-outcome trigger (SQLite only)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [TRIGGER_NAMES])
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def _trigger_count(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
        return cursor.fetchone()[0]


def triggers_restore(migration: str, tables, *, using: str = "default") -> int:
    """Re-run the migration module's create_triggers on SQLite; returns how many triggers were missing."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return 0
    if not set(tables) <= set(connection.introspection.table_names()):
        return 0  # migrated back to before the tables existed
    before = _trigger_count(connection)
    importlib.import_module(migration).create_triggers(None, _TriggersOnly(connection))
    missing = _trigger_count(connection) - before
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(QUEUE_ALL_PLANS)
    return missing


PLAN_OUTCOME_MIGRATION = "outcomes.migrations.0003_plan_outcome_summary"


def plan_outcome_triggers_set_aside(sender, *, using="default", plan=None, **kwargs) -> None:
    """pre_migrate receiver for the outcomes app: only when there are migrations to run."""
    if plan:
        triggers_drop(using=using)


def plan_outcome_triggers_ensure(sender, *, using="default", **kwargs) -> None:
    """post_migrate receiver for the outcomes app."""
    tables = [*importlib.import_module(PLAN_OUTCOME_MIGRATION)._PLANS_OF, "outcomes_planoutcomequeue"]
    triggers_restore(PLAN_OUTCOME_MIGRATION, tables, using=using)

# An adverse event counts in the outcomes dashboard (adverse events per 100 injections, under its index injection),
# so every inserted, updated or deleted event queues the plan of its index injection (before and after an update)
# for outcomes.analysis.plan_outcomes.refresh, like the triggers of outcomes/0003 on the outcome tables: the refresh
# bumps the clinic's data version, and no cached summary outlives the change, whatever wrote it.

from django.db import migrations

TABLE = "safety_adverseevent"
QUEUE = "outcomes_planoutcomequeue"
_PLANS = "SELECT DISTINCT i.plan_id FROM ({ids}) c JOIN registry_injection i ON i.id = c.index_injection_id"


def _name(event: str) -> str:
    return f"{TABLE}_queue_plan_outcome_{event.lower()}"


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Once per statement, over its transition tables: the old and the new index injection of an update.
        rows = {
            "INSERT": ("REFERENCING NEW TABLE AS changed", "SELECT index_injection_id FROM changed"),
            "DELETE": ("REFERENCING OLD TABLE AS gone", "SELECT index_injection_id FROM gone"),
            "UPDATE": (
                "REFERENCING OLD TABLE AS gone NEW TABLE AS changed",
                "SELECT index_injection_id FROM changed UNION SELECT index_injection_id FROM gone",
            ),
        }
        for event, (referencing, ids) in rows.items():
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {_name(event)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO {QUEUE} (plan_id) {_PLANS.format(ids=ids)}; RETURN NULL; END $$"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {_name(event)} AFTER {event} ON {TABLE} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_name(event)}()"
            )
    elif vendor == "sqlite":
        rows = {
            "INSERT": "SELECT NEW.index_injection_id AS index_injection_id",
            "DELETE": "SELECT OLD.index_injection_id AS index_injection_id",
            "UPDATE": "SELECT NEW.index_injection_id AS index_injection_id UNION SELECT OLD.index_injection_id",
        }
        for event, ids in rows.items():
            schema_editor.execute(
                f"CREATE TRIGGER {_name(event)} AFTER {event} ON {TABLE} FOR EACH ROW BEGIN "
                f"INSERT INTO {QUEUE} (plan_id) {_PLANS.format(ids=ids)}; END"
            )
    else:  # pragma: no cover - the registry runs on PostgreSQL (production, CI) and SQLite (the demo)
        raise NotImplementedError(f"No plan-outcome triggers for {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for event in ("INSERT", "UPDATE", "DELETE"):
        on = f" ON {TABLE}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_name(event)}{on}")
        if vendor == "postgresql":
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {_name(event)}()")


class Migration(migrations.Migration):
    dependencies = [
        ("safety", "0006_history_reason_text"),
        ("outcomes", "0003_plan_outcome_summary"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

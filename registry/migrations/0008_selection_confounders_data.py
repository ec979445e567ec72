"""Injections recorded while BMI was optional, and without one, say so: "not recorded before this rule" is
distinct from "not measured", which only a person states. Their history rows get the same value (the column is
new; this records what was true of them, it changes nothing that was written)."""

from django.db import migrations

NOT_RECORDED = "not_recorded"
MEASURED = "measured"


def mark_missing_bmi(apps, schema_editor):
    for name in ("Injection", "HistoricalInjection"):
        apps.get_model("registry", name).objects.filter(bmi__isnull=True).update(bmi_status=NOT_RECORDED)


def unmark_missing_bmi(apps, schema_editor):
    for name in ("Injection", "HistoricalInjection"):
        apps.get_model("registry", name).objects.filter(bmi_status=NOT_RECORDED).update(bmi_status=MEASURED)


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_selection_confounders")]

    operations = [migrations.RunPython(mark_missing_bmi, unmark_missing_bmi)]

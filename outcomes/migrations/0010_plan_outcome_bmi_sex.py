# The adjusted comparison of products reads BMI and sex from the per-plan summary (one row per plan, no joins).
# Every plan is queued, so the next refresh fills the two columns (as 0003 filled the summary at first).

from django.db import migrations, models


def queue_every_plan(apps, schema_editor):
    schema_editor.execute("INSERT INTO outcomes_planoutcomequeue (plan_id) SELECT id FROM registry_treatmentplan")


class Migration(migrations.Migration):

    dependencies = [
        ('outcomes', '0009_timepoint_constraint_all_seven'),
        ('registry', '0009_merge_components_and_selection'),
    ]

    operations = [
        migrations.AddField(
            model_name='planoutcome',
            name='bmi',
            field=models.DecimalField(decimal_places=1, max_digits=4, null=True),
        ),
        migrations.AddField(
            model_name='planoutcome',
            name='sex',
            field=models.CharField(max_length=8, null=True),
        ),
        migrations.RunPython(queue_every_plan, migrations.RunPython.noop),
    ]

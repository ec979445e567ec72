"""Issue 15: copy each event's single WHO-UMC causality to both new assessments, and mark them assessed jointly.

Before the split one assessment covered "the injection", product and procedure together. Copying it to both
keeps it (the stronger of two equal values is that value, so every analysis reads the same causality) and
`assessed_jointly` says it was one judgement, not two: nothing lost, nothing invented
(docs/decisions/0005-causality-split.md). The audit trail's earlier versions get the same copy, so the next correction does not
show a made-up change from "—". The clock's day 0 (aware_on) is the day the event was recorded: the
earliest day the registry can show the clinic knew.
"""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import TruncDate


def split(apps, schema_editor):
    for name in ("AdverseEvent", "HistoricalAdverseEvent"):
        model = apps.get_model("safety", name)
        # TruncDate: the date of recorded_at in the site's time zone (as timezone.localdate gives the services).
        model.objects.update(
            causality_product=F("causality"),
            causality_procedure=F("causality"),
            assessed_jointly=True,
            aware_on=TruncDate("recorded_at"),
        )


def join(apps, schema_editor):
    """Back to one causality: the stronger of the two is what `causality` already holds."""


class Migration(migrations.Migration):
    dependencies = [("safety", "0010_causality_split_and_reports")]

    operations = [
        migrations.RunPython(split, join),
        migrations.AddConstraint(
            model_name="adverseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "causality_product__in",
                        ["certain", "probable", "possible", "unlikely", "conditional", "unassessable"],
                    )
                ),
                name="ae_causality_product_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="adverseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "causality_procedure__in",
                        ["certain", "probable", "possible", "unlikely", "conditional", "unassessable"],
                    )
                ),
                name="ae_causality_procedure_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="adverseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("causality", models.F("causality_product")),
                    ("causality", models.F("causality_procedure")),
                    _connector="OR",
                ),
                name="ae_causality_is_one_of_the_two",
            ),
        ),
    ]

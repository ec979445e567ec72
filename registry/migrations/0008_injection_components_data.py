"""Every injection recorded before components existed becomes one component: position 1, its product, protocol and
volume, delivered intra-articularly (the only route the registry knew). Nothing on the injection changes: its
product, protocol and volume stay as they were (the service keeps them equal to component 1 from now on).

Each component gets a "created" audit row dated when its injection was recorded, so the injection's history reads
as before. Reversing removes the components again, but refuses while any injection combines products: going back
would lose the second product.
"""

from django.db import migrations

BATCH = 2000
REASON = "Recorded before injections had components: the injection's product became its component 1"


def forwards(apps, schema_editor):
    Injection = apps.get_model("registry", "Injection")
    Component = apps.get_model("registry", "InjectionComponent")
    HistoricalComponent = apps.get_model("registry", "HistoricalInjectionComponent")
    pending = (
        Injection.objects.filter(components__isnull=True)
        .order_by("pk")
        .values_list("pk", "product", "protocol", "volume_ml", "created_at", "created_by_id")
    )
    batch = []
    for row in pending.iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) == BATCH:
            _create(batch, Component, HistoricalComponent)
            batch = []
    if batch:
        _create(batch, Component, HistoricalComponent)


def _create(rows, Component, HistoricalComponent):
    components = Component.objects.bulk_create(
        Component(injection_id=pk, position=1, product=product, route="intra_articular", site="", volume_ml=volume,
                  protocol=protocol or {})
        for pk, product, protocol, volume, _, _ in rows
    )
    by_injection = {c.injection_id: c for c in components}
    if by_injection and next(iter(by_injection.values())).pk is None:  # SQLite before 3.35 returns no ids
        by_injection = {c.injection_id: c for c in Component.objects.filter(injection_id__in=list(by_injection))}
    HistoricalComponent.objects.bulk_create(
        HistoricalComponent(
            id=by_injection[pk].pk, injection_id=pk, position=1, product=product, route="intra_articular", site="",
            volume_ml=volume, protocol=protocol or {}, history_date=created_at, history_type="+",
            history_change_reason=REASON, history_user_id=created_by,
        )
        for pk, product, protocol, volume, created_at, created_by in rows
    )


def backwards(apps, schema_editor):
    Component = apps.get_model("registry", "InjectionComponent")
    HistoricalComponent = apps.get_model("registry", "HistoricalInjectionComponent")
    combined = Component.objects.filter(position__gt=1).values("injection_id").distinct().count()
    if combined:
        raise RuntimeError(
            f"{combined} injection(s) combine products; going back to one product per injection would lose the "
            "others. Record them elsewhere first."
        )
    HistoricalComponent.objects.all().delete()
    Component.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0007_injection_components"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]

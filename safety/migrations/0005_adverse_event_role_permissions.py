"""Let the registry's role groups see adverse events (and export logs) in the admin: view only. Events change
through safety.services_events, never through an admin form; which rows anyone sees is still their clinics."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_adverseevent", "view_historicaladverseevent", "view_exportlog"]
GROUPS = ["Auditor", "Clinician", "Clinic lead", "Administrator"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("safety")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.filter(content_type__app_label="safety", codename__in=VIEW))
    for name in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="safety", codename__in=VIEW))


class Migration(migrations.Migration):
    dependencies = [("safety", "0004_adverse_events")]

    operations = [migrations.RunPython(grant, revoke)]

"""Let the registry's role groups (registry 0002_roles) see flags and evaluations in the admin.

View only: flags change through safety.services, never through an admin form. Which rows anyone sees is still
decided by their clinic membership (registry.scoping).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_flag", "view_historicalflag", "view_evaluation"]
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
    dependencies = [
        ("safety", "0001_initial"),
        ("registry", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

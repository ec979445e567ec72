"""Django groups for the registry's roles, carrying model permissions for the admin.

What a user sees is still decided by their clinic Membership (registry.scoping); these permissions only decide
which admin actions exist at all. Auditors only view; clinicians and leads view, add and change clinical records;
administrators hold every registry permission. Nothing grants delete on clinical records.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CLINICAL = ("patient", "injection", "treatmentplan")
HISTORY = ("historicalpatient", "historicalinjection", "historicaltreatmentplan")
REFERENCE = ("clinic", "membership")


def _codenames():
    view_all = [f"view_{m}" for m in (*CLINICAL, *HISTORY, *REFERENCE)]
    writer = [f"{action}_{m}" for m in CLINICAL for action in ("view", "add", "change")] + [
        f"view_{m}" for m in (*HISTORY, "clinic")
    ]
    return {"Auditor": view_all, "Clinician": writer, "Clinic lead": writer}


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create them now so they can be granted.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    registry_perms = Permission.objects.filter(content_type__app_label="registry")
    for name, codenames in _codenames().items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(registry_perms.filter(codename__in=codenames))
    administrators, _ = Group.objects.get_or_create(name="Administrator")
    # "All registry permissions" still excludes deleting clinical records: nothing clinical is deleted.
    administrators.permissions.set(
        registry_perms.exclude(codename__in=[f"delete_{m}" for m in (*CLINICAL, *HISTORY)])
    )


def remove_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Auditor", "Clinician", "Clinic lead", "Administrator"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]

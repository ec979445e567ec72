"""The role groups and the admin permissions each carries, declared once and kept in place after every migrate.

What a user sees is decided by their clinic Membership (registry.scoping); these groups only decide which admin
actions exist at all. Migrations 0002_roles (and safety's 0002 and 0005) first created them; the post_migrate
receiver below puts them back wherever they went missing, for instance after a flush, which empties auth_group
but re-runs post_migrate. It only adds: a permission an administrator granted by hand is left alone.
"""

from collections.abc import Iterable, Mapping

from django.apps import apps as global_apps

AUDITOR, CLINICIAN, LEAD, ADMINISTRATOR = "Auditor", "Clinician", "Clinic lead", "Administrator"
ROLE_GROUP_NAMES = (AUDITOR, CLINICIAN, LEAD, ADMINISTRATOR)

CLINICAL = ("patient", "injection", "treatmentplan")
HISTORY = ("historicalpatient", "historicalinjection", "historicaltreatmentplan")
REFERENCE = ("clinic", "membership")


def _registry_grants() -> dict[str, list[str]]:
    view_all = [f"view_{m}" for m in (*CLINICAL, *HISTORY, *REFERENCE)]
    writer = [f"{action}_{m}" for m in CLINICAL for action in ("view", "add", "change")] + [
        f"view_{m}" for m in (*HISTORY, "clinic")
    ]
    # Administrators hold every registry permission but deleting clinical records: nothing clinical is deleted.
    administrator = [
        *view_all,
        *[f"{action}_{m}" for m in (*CLINICAL, *HISTORY, *REFERENCE) for action in ("add", "change")],
        *[f"delete_{m}" for m in REFERENCE],
    ]
    return {AUDITOR: view_all, CLINICIAN: writer, LEAD: writer, ADMINISTRATOR: administrator}


REGISTRY_GRANTS: Mapping[str, list[str]] = _registry_grants()


def role_permissions_grant(app_label: str, grants: Mapping[str, Iterable[str]], *, apps, using="default") -> None:
    """Make each role group exist and hold at least these permissions of app_label."""
    try:
        groups = apps.get_model("auth", "Group").objects.db_manager(using)
        permissions = apps.get_model("auth", "Permission").objects.db_manager(using)
    except LookupError:  # migrated back to before auth
        return
    for name, codenames in grants.items():
        group, _ = groups.get_or_create(name=name)
        group.permissions.add(*permissions.filter(content_type__app_label=app_label, codename__in=list(codenames)))


def registry_roles_ensure(sender, *, apps=global_apps, using="default", **kwargs) -> None:
    """post_migrate receiver for the registry app (auth's create_permissions has run for it by then)."""
    role_permissions_grant("registry", REGISTRY_GRANTS, apps=apps, using=using)

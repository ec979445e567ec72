"""What the role groups (registry.roles) may see of safety in the admin: view only, for every role. Flags and
adverse events change through safety's services, never through an admin form."""

from django.apps import apps as global_apps

from registry.roles import ROLE_GROUP_NAMES, role_permissions_grant

VIEW = (
    "view_flag",
    "view_historicalflag",
    "view_evaluation",
    "view_adverseevent",
    "view_historicaladverseevent",
    "view_exportlog",
)
SAFETY_GRANTS = dict.fromkeys(ROLE_GROUP_NAMES, VIEW)


def safety_roles_ensure(sender, *, apps=global_apps, using="default", **kwargs) -> None:
    """post_migrate receiver for the safety app (see registry.roles)."""
    role_permissions_grant("safety", SAFETY_GRANTS, apps=apps, using=using)

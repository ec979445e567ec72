"""Giving staff a role in a clinic. The Membership row decides what they see (registry.scoping); the matching
Django group only carries model permissions for the admin, so the two are kept in step here."""

from django.contrib.auth.models import Group
from django.db import transaction

from registry.choices import Role
from registry.models import Clinic, Membership

# The groups and their permissions are declared in registry.roles.
ROLE_GROUPS: dict[str, str] = {
    Role.CLINICIAN: "Clinician",
    Role.LEAD: "Clinic lead",
    Role.AUDITOR: "Auditor",
}


def role_groups_sync(user) -> None:
    """Put the user in exactly the role groups their memberships call for (Administrator is left alone)."""
    held = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    wanted = Group.objects.filter(name__in=[ROLE_GROUPS[role] for role in held])
    unwanted = Group.objects.filter(name__in=ROLE_GROUPS.values()).exclude(pk__in=wanted)
    user.groups.remove(*unwanted)
    user.groups.add(*wanted)


@transaction.atomic
def membership_grant(*, user, clinic: Clinic, role: str) -> Membership:
    """Give the user this role in the clinic (replacing any role they had there) and let them sign in to the admin,
    where they see only their clinics' rows."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}; choose from {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(user=user, clinic=clinic, defaults={"role": role})
    role_groups_sync(user)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership

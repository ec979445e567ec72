"""Role groups (migration 0002_roles) and membership_grant, which keeps groups and admin access with the role."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from registry.choices import Role
from registry.memberships import membership_grant
from registry.models import Membership
from registry.roles import REGISTRY_GRANTS, ROLE_GROUP_NAMES
from safety.roles import SAFETY_GRANTS
from tests.factories import UserFactory


def codenames(group_name: str) -> set[str]:
    return set(Group.objects.get(name=group_name).permissions.values_list("codename", flat=True))


def test_auditors_only_view(db):
    perms = codenames("Auditor")
    assert {"view_patient", "view_injection", "view_treatmentplan", "view_historicalinjection"} <= perms
    assert all(p.startswith("view_") for p in perms)


@pytest.mark.parametrize("group", ["Clinician", "Clinic lead"])
def test_writers_view_add_change_clinical_records_but_never_delete(db, group):
    perms = codenames(group)
    for model in ("patient", "injection", "treatmentplan"):
        assert {f"view_{model}", f"add_{model}", f"change_{model}"} <= perms
    assert not any(p.startswith("delete_") for p in perms)
    assert "change_clinic" not in perms
    assert "add_membership" not in perms


def test_administrators_hold_registry_permissions_except_deleting_clinical_records(db):
    perms = codenames("Administrator")
    assert {"add_clinic", "change_clinic", "add_membership", "delete_membership", "change_injection"} <= perms
    assert "delete_patient" not in perms
    assert "delete_injection" not in perms


def test_membership_grant_creates_membership_group_and_staff_access(clinic):
    user = UserFactory()
    membership = membership_grant(user=user, clinic=clinic, role=Role.CLINICIAN)
    user.refresh_from_db()
    assert membership.role == Role.CLINICIAN
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["Clinician"]
    assert user.has_perm("registry.change_injection")


def test_membership_grant_changes_role_and_swaps_group(clinic):
    user = UserFactory()
    membership_grant(user=user, clinic=clinic, role=Role.CLINICIAN)
    membership_grant(user=user, clinic=clinic, role=Role.AUDITOR)
    assert Membership.objects.get(user=user).role == Role.AUDITOR
    assert set(user.groups.values_list("name", flat=True)) == {"Auditor"}


def test_groups_follow_roles_across_clinics(clinic, other_clinic):
    user = UserFactory()
    admin_group = Group.objects.get(name="Administrator")
    user.groups.add(admin_group)
    membership_grant(user=user, clinic=clinic, role=Role.LEAD)
    membership_grant(user=user, clinic=other_clinic, role=Role.AUDITOR)
    assert set(user.groups.values_list("name", flat=True)) == {"Administrator", "Clinic lead", "Auditor"}


def test_membership_grant_rejects_unknown_role(clinic):
    with pytest.raises(ValueError, match="Unknown role"):
        membership_grant(user=UserFactory(), clinic=clinic, role="surgeon")
    assert not Membership.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_role_groups_come_back_after_a_flush():
    # A flush (every transactional test ends with one) empties auth_group; post_migrate must restore the roles
    # exactly as declared, or the next test's clinicians meet a 403 in the admin.
    call_command("flush", interactive=False, verbosity=0)
    for name in ROLE_GROUP_NAMES:
        group = Group.objects.get(name=name)
        held = set(group.permissions.values_list("content_type__app_label", "codename"))
        declared = {("registry", c) for c in REGISTRY_GRANTS[name]} | {("safety", c) for c in SAFETY_GRANTS[name]}
        assert held == declared, name


def test_migrations_and_the_declaration_agree(db):
    for name in ROLE_GROUP_NAMES:
        assert codenames(name) == set(REGISTRY_GRANTS[name]) | set(SAFETY_GRANTS[name]), name

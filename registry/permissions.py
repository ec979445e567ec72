from rest_framework.permissions import SAFE_METHODS, BasePermission

from registry.scoping import can_write, clinics_for


class ClinicRolePermission(BasePermission):
    """Signed-in staff with a role somewhere may read; only writing roles may change anything.

    Which rows they see is decided by the scoped querysets (registry.scoping), not here.
    """

    message = "Your role can read but not change clinical data."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return clinics_for(user).exists()
        return can_write(user)

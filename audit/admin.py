"""Access log in the admin (read-only, administrators), and API tokens without their keys: an administrator
can see who has a token and revoke it, never read or copy one."""

from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from audit.models import AccessLog


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "action", "registry_number", "route", "path"]
    list_filter = ["action"]
    search_fields = ["registry_number", "username"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class KeylessTokenAdmin(TokenAdmin):
    list_display = ["user", "created"]
    fields = ["user", "created"]
    readonly_fields = ["user", "created"]
    search_fields = ["user__username"]
    search_help_text = "Tokens are created by their owner (Account → API token); here they can only be revoked."

    def get_fields(self, request, obj=None):
        return ["user", "created"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _token_label(token) -> str:
    return f"API token of {token.user}"


# DRF's Token.__str__ is the key itself, which the admin would print on its delete pages and copy into its
# change log (django_admin_log.object_repr). Name the owner instead.
TokenProxy.__str__ = _token_label

if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, KeylessTokenAdmin)

"""Adverse events, export jobs and export logs in the admin: scoped like the pages, read-only, never deleted.
An event changes only through safety.services (its correction page or the API), with a reason."""

from django.contrib import admin

from registry.admin import ScopedAdmin
from safety import selectors
from safety.models import AdverseEvent, ExportLog


class _ReadOnly(ScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AdverseEvent)
class AdverseEventAdmin(_ReadOnly):
    list_display = [
        "id",
        "category",
        "is_serious",
        "severity",
        "causality_product",
        "causality_procedure",
        "outcome",
        "patient",
        "clinic",
        "onset_on",
    ]
    list_filter = [
        "is_serious",
        "category",
        "causality",
        "assessed_jointly",
        "outcome",
        ("clinic", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["patient__registry_number"]
    list_select_related = ["patient", "clinic"]
    date_hierarchy = "onset_on"

    def scoped(self, user, *, write=False):
        return selectors.events_for(user, write=write)


@admin.register(ExportLog)
class ExportLogAdmin(_ReadOnly):
    list_display = ["at", "user", "format", "row_count", "filters"]
    list_filter = ["format"]
    list_select_related = ["user"]

    def scoped(self, user, *, write=False):
        return selectors.export_logs_for(user)

from django.contrib import admin

from notifications.models import CallAttempt, DeliveryAttempt, OutboundMessage


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "outcome", "error"]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    """Read-only: the outbox changes through the sweep and the services, never by hand."""

    list_display = ["id", "kind", "status", "clinic", "patient", "scheduled_for", "attempts", "sent_at"]
    list_filter = ["status", "kind", "clinic"]
    # A Message-ID finds the row(s) an email carried, e.g. to recognise a copy sent twice.
    search_fields = ["dedupe_key", "patient__registry_number", "recipient", "email_message_id"]
    date_hierarchy = "scheduled_for"
    list_select_related = ["clinic", "patient"]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CallAttempt)
class CallAttemptAdmin(admin.ModelAdmin):
    list_display = ["follow_up", "clinic", "outcome", "called_by", "called_at"]
    list_filter = ["outcome", "clinic"]
    list_select_related = ["clinic", "called_by", "follow_up__patient"]
    readonly_fields = ["follow_up", "clinic", "called_by", "called_at", "outcome", "note"]

    def has_add_permission(self, request):
        return False

"""Admin for outcomes: read-mostly and scoped. Submissions and amendments are never deleted or edited here
(corrections are amendments, made on the submission's page), and no link's token hash is ever shown."""

from django.contrib import admin
from django.db.models import Q
from simple_history.admin import SimpleHistoryAdmin

from outcomes import selectors
from outcomes.models import Amendment, FollowUp, QuestionnaireLink, ReminderComparison, ReminderStrategy, Submission
from registry.admin import AdministratorsOnly
from registry.scoping import clinics_for


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ["id", "patient", "clinic", "timepoint", "opens_on", "due_on", "closes_on", "status"]
    list_filter = ["timepoint", "status", "clinic"]
    search_fields = ["patient__registry_number"]
    date_hierarchy = "due_on"
    list_select_related = ["patient", "clinic"]
    readonly_fields = [f.name for f in FollowUp._meta.fields]

    def get_queryset(self, request):
        return selectors.follow_ups_for(request.user)


@admin.register(QuestionnaireLink)
class QuestionnaireLinkAdmin(ReadOnlyAdmin):
    list_display = ["id", "follow_up", "channel", "created_at", "expires_at", "first_opened_at", "locked_at"]
    list_filter = ["channel"]
    list_select_related = ["follow_up__patient"]
    # token_hash is deliberately absent: a hash of a live bearer token has no business on a screen.
    fields = readonly_fields = [
        "follow_up",
        "channel",
        "created_by",
        "created_at",
        "expires_at",
        "first_opened_at",
        "started_at",
        "failed_checks",
        "locked_at",
    ]

    def get_queryset(self, request):
        return QuestionnaireLink.objects.filter(follow_up__in=selectors.follow_ups_for(request.user).values("id"))

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AmendmentInline(admin.TabularInline):
    model = Amendment
    extra = 0
    fields = readonly_fields = ["amended_at", "amended_by", "reason", "scores_before", "scores_after"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["id", "follow_up", "timepoint", "submitted_at", "source", "late", "amended", "oks_total"]
    list_filter = ["timepoint", "source", "late", "amended", "clinic"]
    search_fields = ["follow_up__patient__registry_number"]
    list_select_related = ["follow_up__patient"]
    readonly_fields = [f.name for f in Submission._meta.fields]
    inlines = [AmendmentInline]

    def get_queryset(self, request):
        return selectors.submissions_for(request.user)


@admin.register(Amendment)
class AmendmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "submission", "amended_at", "amended_by"]
    readonly_fields = [f.name for f in Amendment._meta.fields]
    list_select_related = ["submission__follow_up__patient", "amended_by"]

    def get_queryset(self, request):
        return selectors.amendments_for(request.user)


@admin.register(ReminderStrategy)
class ReminderStrategyAdmin(AdministratorsOnly, SimpleHistoryAdmin):
    """A clinic's default way of reminding patients (text reminder days, the after-submission score view) is set
    here by an administrator; without one the settings apply (SMS_REMINDER_DAYS). A strategy that is an arm of a
    reminder comparison is fixed: an arm must mean the same thing from its first patient to its last."""

    list_display = ["name", "clinic", "is_clinic_default", "text_reminders", "text_reminder_days", "show_own_scores"]
    list_filter = ["clinic", "is_clinic_default"]
    list_select_related = ["clinic"]

    def get_queryset(self, request):
        return ReminderStrategy.objects.filter(clinic__in=clinics_for(request.user).values("id"))

    def has_change_permission(self, request, obj=None):
        if obj is not None and ReminderComparison.objects.filter(Q(arm_a=obj) | Q(arm_b=obj)).exists():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # patients' reminders were planned by it; its history stays

"""Flags and evaluations in the admin: scoped like the clinician pages (registry.admin.ScopedAdmin), never deleted,
and read-only. A flag changes only through safety.services (its page, or the action below), so every change has
its who, when and reason."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from registry.admin import ScopedAdmin
from registry.scoping import clinics_for
from safety import services
from safety.models import Evaluation, Flag
from safety.selectors import flags_for


class ReadOnlyScopedAdmin(ScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        """Actions that go through a service: writing roles only (never auditors)."""
        return clinics_for(request.user, write=True).exists()


@admin.register(Flag)
class FlagAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "rule", "urgent", "status", "patient", "clinic", "raised_at", "reviewed_by"]
    list_filter = ["status", "urgent", "rule", ("clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["patient__registry_number"]
    list_select_related = ["patient", "clinic", "reviewed_by"]
    date_hierarchy = "raised_at"
    actions = ["start_review"]

    def scoped(self, user, *, write=False):
        return flags_for(user, write=write)

    @admin.action(description="Start review of the selected flags", permissions=["review"])
    def start_review(self, request, queryset):
        started = 0
        for flag in queryset.filter(pk__in=flags_for(request.user, write=True).values("pk")):
            try:
                services.flag_start_review(flag=flag, by=request.user)
                started += 1
            except ValidationError as error:
                self.message_user(request, f"Flag {flag.pk}: {' '.join(error.messages)}", messages.WARNING)
        self.message_user(request, f"Review started on {started} flag(s).")


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyScopedAdmin):
    list_display = ["submission", "evaluated_at", "attempts", "last_attempt_at", "error"]
    list_filter = [("evaluated_at", admin.EmptyFieldListFilter)]
    list_select_related = ["submission"]
    actions = ["evaluate_again"]

    def scoped(self, user, *, write=False):
        return Evaluation.objects.filter(submission__clinic__in=clinics_for(user, write=write).values("id"))

    @admin.action(description="Evaluate the selected submissions again now", permissions=["review"])
    def evaluate_again(self, request, queryset):
        for evaluation in queryset.filter(pk__in=self.scoped(request.user, write=True).values("pk")):
            try:
                services.flags_evaluate(evaluation.submission_id)
            except Exception as exc:  # noqa: BLE001 - recorded on the evaluation; shown to the operator here
                self.message_user(request, f"Submission {evaluation.submission_id}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Submission {evaluation.submission_id} evaluated.")

"""The Django admin, for data management by staff. It sees exactly what the clinician pages see: every queryset and
every object-level permission goes through registry.scoping, so a member of clinic A finds nothing of clinic B here.
Auditors get a read-only admin; nobody deletes clinical records; changes go through the registry's services with a
reason, like on the clinician pages."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from registry import plausibility, selection, services
from registry.choices import WRITING_ROLES
from registry.memberships import membership_grant, role_groups_sync
from registry.models import Clinic, Injection, InjectionComponent, Membership, Patient, TreatmentPlan
from registry.protocols import validate_protocol
from registry.scoping import clinics_for, injections_for, is_administrator, patients_for, plans_for


class ScopedAdmin(SimpleHistoryAdmin):
    """Rows come from the scoping helper; Django's model permissions (from the role groups) say which actions exist,
    and the scoping helper with write=True says on which rows."""

    def scoped(self, user, *, write: bool = False):
        raise NotImplementedError

    def get_queryset(self, request):
        queryset = self.scoped(request.user)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def _in_scope(self, request, obj, *, write: bool) -> bool:
        return self.scoped(request.user, write=write).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or self._in_scope(request, obj, write=False))

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj) or not clinics_for(request.user, write=True).exists():
            return False
        return obj is None or self._in_scope(request, obj, write=True)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and clinics_for(request.user, write=True).exists()

    def has_delete_permission(self, request, obj=None):
        return False  # nothing clinical is deleted: withdraw consent, or correct the record with a reason

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Reverting would write an old version back without the service's checks and reason.
        if request.method == "POST":
            raise PermissionDenied("Reverting is disabled: correct the record on its edit page, with a reason.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReasonForm(forms.ModelForm):
    """Every admin change carries the reason the audit history shows."""

    change_reason = forms.CharField(
        label="Reason for the change", max_length=500, help_text="Kept in the audit history."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:  # a new record's history says how it was created
            self.fields["change_reason"].required = False
            self.fields["change_reason"].help_text = "Not needed for a new record."


class PatientAdminForm(ReasonForm):
    class Meta:
        model = Patient
        fields = ["clinic", *services.PATIENT_FIELDS]


@admin.register(Patient)
class PatientAdmin(ScopedAdmin):
    form = PatientAdminForm
    list_display = ["registry_number", "full_name", "year_of_birth", "clinic", "consent_withdrawn_at"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), "sex"]
    search_fields = ["registry_number", "full_name", "email"]
    readonly_fields = [
        "registry_number",
        "consent_withdrawn_at",
        "withdrawal_decision",
        "withdrawal_reason",
        "email_opted_out_at",
        "created_at",
    ]
    list_select_related = ["clinic"]

    def scoped(self, user, *, write=False):
        return patients_for(user, write=write)

    def get_readonly_fields(self, request, obj=None):
        # A patient's clinic is fixed once enrolled (their records and follow-ups belong to it).
        return [*self.readonly_fields, "clinic"] if obj else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinic":
            kwargs["queryset"] = clinics_for(request.user, write=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.PATIENT_FIELDS}
        if change:
            saved = services.patient_update(
                patient=obj, by=request.user, data=data, reason=form.cleaned_data["change_reason"]
            )
        else:
            fields = {name: form.cleaned_data[name] for name in services.PATIENT_FIELDS if name in form.cleaned_data}
            saved = services.patient_enrol(clinic=form.cleaned_data["clinic"], by=request.user, data=fields)
        obj.pk, obj.registry_number = saved.pk, saved.registry_number


class InjectionAdminForm(ReasonForm):
    class Meta:
        model = Injection
        # protocol and governance are in the form so the model's clean() (registry.protocols) reports on them here.
        fields = [name for name in services.INJECTION_FIELDS if name not in services.INJECTION_FIXED_FIELDS]

    confirm_unusual_values = forms.BooleanField(
        label="The unusual values are correct",
        required=False,
        help_text="Unusual (but possible) values are saved only once confirmed; the audit history records it.",
    )

    def clean(self):
        data = super().clean()
        # The model's clean() refused impossible values already; unusual ones need this tick (registry.plausibility).
        self.acknowledged_warnings = []
        if not self.errors:
            instance = self.instance
            record = data.get("protocol", instance.protocol)
            protocol = validate_protocol(instance.product, record, stored=instance.stored_protocol)[0]
            found = plausibility.warnings(instance.product, protocol, stored=instance.stored_protocol)
            unusual_selection = self._unusual_selection(data)
            if (found or unusual_selection) and not data.get("confirm_unusual_values"):
                if found:
                    self.add_error("protocol", [f"{w.field}: {w.message}" for w in found])
                for w in unusual_selection:  # beside its own field
                    self.add_error(w.field, w.message)
                self.add_error("confirm_unusual_values", "Tick this once you have checked the unusual values.")
            self.acknowledged_warnings = [w.code for w in [*found, *unusual_selection]]
        return data

    def _unusual_selection(self, data: dict) -> list:
        """Unusual selection factors (registry.selection), judged on the values as they will be saved."""
        instance = self.instance
        values = {name: data.get(name, getattr(instance, name)) for name in selection.FIELDS}
        day = data.get("injected_on", instance.injected_on)
        return selection.validate(values, day=day, stored=instance.stored_selection)[1]


class InjectionComponentInline(admin.TabularInline):
    """What was injected, read only: components change through the injection pages and the API, whose service
    checks each one (route, protocol, plausibility) and keeps component 1 equal to the injection's own fields."""

    model = InjectionComponent
    fields = ["position", "product", "route", "site", "volume_ml", "protocol"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Injection)
class InjectionAdmin(ScopedAdmin):
    form = InjectionAdminForm
    inlines = [InjectionComponentInline]
    list_display = ["__str__", "patient", "status", "clinician", "injected_on"]
    list_filter = ["product", "status", "knee"]
    search_fields = ["patient__registry_number"]
    readonly_fields = ["patient", "plan", "number_in_plan", "knee", "product", "age_at_injection", "created_by"]
    list_select_related = ["patient", "clinician"]

    def scoped(self, user, *, write=False):
        return injections_for(user, write=write)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinician":
            # Treating clinicians come from the clinics this user may write in, never from the whole user table.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(
                    memberships__clinic__in=clinics_for(request.user, write=True),
                    memberships__role__in=WRITING_ROLES,
                )
                .distinct()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False  # recorded on the patient's page, which opens or joins the treatment plan

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.INJECTION_FIELDS}
        services.injection_update(
            injection=obj,
            by=request.user,
            data=data,
            reason=form.cleaned_data["change_reason"],
            acknowledged_warnings=form.acknowledged_warnings,
        )


@admin.register(TreatmentPlan)
class TreatmentPlanAdmin(ScopedAdmin):
    list_display = ["__str__", "patient", "planned_injections", "created_at"]
    list_filter = ["product", "knee"]
    search_fields = ["patient__registry_number"]
    list_select_related = ["patient"]

    def scoped(self, user, *, write=False):
        return plans_for(user, write=write)

    # Plans are opened and joined by recording injections; there is no service to edit one directly.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AdministratorsOnly:
    """Clinics and who works in them: registry administrators only."""

    def has_module_permission(self, request):
        return is_administrator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_administrator(request.user)

    def has_add_permission(self, request):
        return is_administrator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_administrator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_administrator(request.user)


@admin.register(Clinic)
class ClinicAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = [
        "name",
        "country",
        "time_zone",
        "default_language",
        "contact_email",
        "phone",
        "link_requires_year_of_birth",
        "show_own_scores",
    ]
    search_fields = ["name"]

    def get_queryset(self, request):
        return clinics_for(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # a clinic holds patients (PROTECT); it is never deleted


@admin.register(Membership)
class MembershipAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["user", "clinic", "role", "created_at"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), "role"]
    search_fields = ["user__username", "user__email", "clinic__name"]
    autocomplete_fields = ["user", "clinic"]
    list_select_related = ["user", "clinic"]

    def get_queryset(self, request):
        return Membership.objects.filter(clinic__in=clinics_for(request.user))

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another person or clinic is a new membership: only the role changes here.
        return ["user", "clinic"] if obj else []

    def save_model(self, request, obj, form, change):
        # Through the service, so the user's role groups and admin access follow the membership.
        saved = membership_grant(user=obj.user, clinic=obj.clinic, role=obj.role)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        role_groups_sync(obj.user)

    def delete_queryset(self, request, queryset):
        users = {m.user for m in queryset.select_related("user")}
        super().delete_queryset(request, queryset)
        for user in users:
            role_groups_sync(user)

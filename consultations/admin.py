"""Consultations in the admin: scoped like every registry list (registry.admin.ScopedAdmin) and read only.
A consultation is recorded and corrected on its pages or through the API, whose service checks the decision rules
and keeps the reason in the audit history."""

from django.contrib import admin

from consultations.models import Consultation
from consultations.selectors import consultations_for
from registry.admin import ScopedAdmin


@admin.register(Consultation)
class ConsultationAdmin(ScopedAdmin):
    list_display = ["__str__", "patient", "decision", "proposed_product", "kl_grade", "clinician", "consulted_on"]
    list_filter = ["decision", "knee", "kl_grade", "proposed_product"]
    search_fields = ["patient__registry_number"]
    list_select_related = ["patient", "clinician"]

    def scoped(self, user, *, write=False):
        return consultations_for(user, write=write)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

"""The one place that decides what a user may see and change. Views, API, admin and exports all start here,
so a new page cannot forget the check: anything outside the user's clinics is simply not in the queryset (404).
"""

from django.db.models import QuerySet
from django.http import Http404

from registry.choices import WRITING_ROLES, Role
from registry.models import Clinic, Injection, Membership, Patient, TreatmentPlan

ADMINISTRATOR_GROUP = "Administrator"


def is_administrator(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_is_registry_admin", None)
    if cached is None:
        cached = user.groups.filter(name=ADMINISTRATOR_GROUP).exists()
        user._is_registry_admin = cached
    return cached


def clinics_for(user, *, write: bool = False) -> QuerySet[Clinic]:
    """Clinics the user may read (or, with write=True, change clinical data in)."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    if is_administrator(user):
        return Clinic.objects.all()
    roles = WRITING_ROLES if write else Role.values
    return Clinic.objects.filter(memberships__user=user, memberships__role__in=roles).distinct()


def _clinic_ids(user, *, write: bool):
    return clinics_for(user, write=write).values("id")


def patients_for(user, *, write: bool = False) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic__in=_clinic_ids(user, write=write))


def plans_for(user, *, write: bool = False) -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.filter(patient__clinic__in=_clinic_ids(user, write=write))


def injections_for(user, *, write: bool = False) -> QuerySet[Injection]:
    return Injection.objects.filter(patient__clinic__in=_clinic_ids(user, write=write))


def role_in(user, clinic) -> str | None:
    if is_administrator(user):
        return "administrator"
    return Membership.objects.filter(user=user, clinic=clinic).values_list("role", flat=True).first()


def can_write(user) -> bool:
    """Whether the user may change clinical data anywhere (auditors never may)."""
    return clinics_for(user, write=True).exists()


def get_for_user_or_404(queryset: QuerySet, **lookup):
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc

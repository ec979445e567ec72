"""Writing the access log. Reads of patient data are recorded by AccessLogMiddleware (routes in ACCESS_RULES);
anything else that must be recorded (an erasure, a security setting) calls access_log_record directly."""

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest

from audit.models import AccessLog
from registry.logging import redact
from registry.models import Clinic, Patient


def patient_of(obj) -> Patient | None:
    if obj is None:
        return None
    if isinstance(obj, Patient):
        return obj
    if getattr(obj, "patient_id", None):
        return obj.patient
    follow_up = getattr(obj, "follow_up", None)
    if follow_up is not None:
        return follow_up.patient
    return None


def clinic_id_of(obj) -> int | None:
    if isinstance(obj, Clinic):
        return obj.pk
    if getattr(obj, "clinic_id", None):
        return obj.clinic_id
    patient = patient_of(obj)
    return patient.clinic_id if patient else None


def access_log_record(
    request: HttpRequest | None,
    *,
    action: str,
    obj=None,
    user=None,
    route: str = "",
    detail: str = "",
) -> AccessLog:
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    patient = patient_of(obj)
    return AccessLog.objects.create(
        user=user,
        username=user.get_username() if user else "",
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        registry_number=patient.registry_number if patient else "",
        clinic_id=clinic_id_of(obj),
        method=request.method if request else "",
        # The path only, never the query string (a search for a name would put the name in the log).
        path=redact(request.path)[:300] if request else "",
        route=route[:100],
        ip_address=(request.META.get("REMOTE_ADDR") or None) if request else None,
        detail=detail[:300],
    )

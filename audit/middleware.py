"""Record every successful read of patient data by route name, so views need no code of their own for it.

A route that shows one patient's data names the model and the URL argument that finds the object; a list or an
export names none. A new page that shows patient data needs a line here (tests/security/test_access_log.py
checks the routes of the registry's patient pages, the API and the exports).
"""

from django.apps import apps

from audit.models import AccessAction
from audit.services import access_log_record

# view name -> (action, model label or None, URL kwarg, model field)
ACCESS_RULES: dict[str, tuple[str, str | None, str, str]] = {
    "registry:patient-list": (AccessAction.LIST, None, "", ""),
    "registry:patient-detail": (AccessAction.VIEW, "registry.Patient", "registry_number", "registry_number"),
    "registry:patient-edit": (AccessAction.VIEW, "registry.Patient", "registry_number", "registry_number"),
    "registry:injection-detail": (AccessAction.VIEW, "registry.Injection", "pk", "pk"),
    "registry:injection-edit": (AccessAction.VIEW, "registry.Injection", "pk", "pk"),
    "registry-api:patient-list": (AccessAction.LIST, None, "", ""),
    "registry-api:patient-detail": (AccessAction.VIEW, "registry.Patient", "pk", "pk"),
    "registry-api:injection-list": (AccessAction.LIST, None, "", ""),
    "registry-api:injection-detail": (AccessAction.VIEW, "registry.Injection", "pk", "pk"),
    "outcomes:submission-detail": (AccessAction.VIEW, "outcomes.Submission", "pk", "pk"),
    "outcomes:patient-trajectory": (AccessAction.VIEW, "registry.Patient", "registry_number", "registry_number"),
    "outcomes:dashboard-csv": (AccessAction.EXPORT, None, "", ""),
    "outcomes:knee-replacement-csv": (AccessAction.EXPORT, None, "", ""),
    "outcomes:reminder-comparison-csv": (AccessAction.EXPORT, "outcomes.ReminderComparison", "pk", "pk"),
    "consultations:fallback-paths-csv": (AccessAction.EXPORT, None, "", ""),
    "outcomes-api:follow-up-detail": (AccessAction.VIEW, "outcomes.FollowUp", "pk", "pk"),
    "safety:flag-detail": (AccessAction.VIEW, "safety.Flag", "pk", "pk"),
    "flag-detail": (AccessAction.VIEW, "safety.Flag", "pk", "pk"),
    "safety:event-list": (AccessAction.LIST, None, "", ""),
    "safety:event-detail": (AccessAction.VIEW, "safety.AdverseEvent", "pk", "pk"),
    "safety:event-correct": (AccessAction.VIEW, "safety.AdverseEvent", "pk", "pk"),
    "safety:event-cioms": (AccessAction.EXPORT, "safety.AdverseEvent", "pk", "pk"),
    "safety:export-job-download": (AccessAction.EXPORT, None, "", ""),
    "adverse-event-list": (AccessAction.LIST, None, "", ""),
    "adverse-event-detail": (AccessAction.VIEW, "safety.AdverseEvent", "pk", "pk"),
    "admin:registry_patient_change": (AccessAction.VIEW, "registry.Patient", "object_id", "pk"),
    "admin:registry_injection_change": (AccessAction.VIEW, "registry.Injection", "object_id", "pk"),
    "audit:export": (AccessAction.EXPORT, None, "", ""),
    "consultations:consultation-list": (AccessAction.LIST, None, "", ""),
    "consultations:consultation-detail": (AccessAction.VIEW, "consultations.Consultation", "pk", "pk"),
    "consultations:consultation-edit": (AccessAction.VIEW, "consultations.Consultation", "pk", "pk"),
    "consultations-api:consultation-list": (AccessAction.LIST, None, "", ""),
    "consultations-api:consultation-detail": (AccessAction.VIEW, "consultations.Consultation", "pk", "pk"),
}


class AccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if (
            match is not None
            and match.view_name in ACCESS_RULES
            and request.method in ("GET", "HEAD")
            and 200 <= response.status_code < 300
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
        ):
            self._record(request, match)
        return response

    @staticmethod
    def _record(request, match) -> None:
        action, label, kwarg, field = ACCESS_RULES[match.view_name]
        obj = None
        if label:
            value = match.kwargs.get(kwarg)
            obj = apps.get_model(label)._default_manager.filter(**{field: value}).first()
        access_log_record(request, action=action, obj=obj, route=match.view_name)

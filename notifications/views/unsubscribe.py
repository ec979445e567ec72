"""The unsubscribe link in every patient email. GET only asks (mail scanners open links); POST records it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from notifications import services
from registry.i18n import patient_language


@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    row = services.unsubscribe_resolve(token)
    # In the patient's language; an unknown link's page follows the browser.
    with patient_language(request, row.patient if row is not None else None):
        return _unsubscribe(request, row)


def _unsubscribe(request: HttpRequest, row) -> HttpResponse:
    if row is None:
        return render(request, "notifications/unsubscribe.html", {"state": "invalid"}, status=404)
    clinic = row.patient.clinic
    if request.method == "POST":
        services.unsubscribe_confirm(token=row)
        return render(request, "notifications/unsubscribe.html", {"state": "done", "clinic": clinic})
    state = "already" if row.patient.email_opted_out_at else "confirm"
    return render(request, "notifications/unsubscribe.html", {"state": state, "clinic": clinic})

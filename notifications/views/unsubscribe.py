"""The unsubscribe link in every patient email. GET only asks (mail scanners open links); POST records it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from notifications import services


@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    row = services.unsubscribe_resolve(token)
    if row is None:
        return render(request, "notifications/unsubscribe.html", {"state": "invalid"}, status=404)
    clinic = row.patient.clinic
    if request.method == "POST":
        services.unsubscribe_confirm(token=row)
        return render(request, "notifications/unsubscribe.html", {"state": "done", "clinic": clinic})
    state = "already" if row.patient.email_opted_out_at else "confirm"
    return render(request, "notifications/unsubscribe.html", {"state": state, "clinic": clinic})

"""The site's error pages (config/urls.py's handler400/403/404/500, CSRF_FAILURE_VIEW, and the 405 that
registry.middleware.MethodNotAllowedPageMiddleware puts in place of Django's empty one).

Three audiences: staff get the site's layout with their navigation and a way back; a patient on a questionnaire
or unsubscribe link gets plain words in the questionnaire's layout, with nothing of the staff site (a clinic
tablet may be signed in); an API client gets DRF's JSON body, as the schema documents.

The 500 page is rendered without the request (no context processors, no session, no database): whatever broke
the page may be what those need.
"""

import logging
from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import exceptions as api_errors

from registry.i18n import patient_language

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Pages a patient reaches from an email (outcomes' /q/<token>/..., notifications' /unsubscribe/<token>/).
PATIENT_PREFIXES = ("/q/", "/unsubscribe/", "/copy/")

STAFF_TEMPLATES = {400: "400.html", 403: "403.html", 404: "404.html", 405: "405.html", 500: "500.html"}
PATIENT_TEMPLATE = "errors/patient.html"
API_DETAIL = {
    400: "Bad request.",
    403: str(api_errors.PermissionDenied.default_detail),
    404: str(api_errors.NotFound.default_detail),
    405: str(api_errors.MethodNotAllowed.default_detail),  # 'Method "{method}" not allowed.', as DRF's own
    500: str(api_errors.APIException.default_detail),
}
# Shown if the error page itself cannot be rendered (a template or static files missing): no layout, still a page.
LAST_RESORT = (
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Something went wrong</title></head>'
    "<body><h1>Something went wrong</h1><p>Please try again in a few minutes.</p>"
    '<p><a href="/">Back to the start</a></p></body></html>'
)


def _for_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _for_patient(request: HttpRequest) -> bool:
    return request.path_info.startswith(PATIENT_PREFIXES)


def _way_back(request: HttpRequest) -> str | None:
    """The page the user came from, when it is on this site and is not the page that failed."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except DisallowedHost:  # the 400 this page may be answering
        return None
    if not url_has_allowed_host_and_scheme(referer, allowed_hosts={host}, require_https=request.is_secure()):
        return None
    target = urlsplit(referer)
    if target.path == request.path:
        return None
    return target.path + (f"?{target.query}" if target.query else "")


def _render(request: HttpRequest, status: int, context: dict | None = None) -> HttpResponse:
    if _for_api(request):
        return JsonResponse({"detail": API_DETAIL[status].format(method=request.method)}, status=status)
    context = {"status": status, **(context or {})}
    if _for_patient(request):
        # No patient is known here: the page follows the switch or the browser (registry.i18n).
        with patient_language(request):
            return HttpResponse(loader.render_to_string(PATIENT_TEMPLATE, context, request), status=status)
    signed_in = getattr(getattr(request, "user", None), "is_authenticated", False)
    context |= {
        "way_back": _way_back(request),
        "home": reverse("notifications:attention") if signed_in else reverse("login"),
    }
    return HttpResponse(loader.render_to_string(STAFF_TEMPLATES[status], context, request), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _render(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None) -> HttpResponse:
    # Our views raise PermissionDenied with a sentence for the user ("The mailbox is for clinic staff.").
    reason = str(exception) if exception is not None and str(exception) else ""
    return _render(request, 403, {"reason": reason})


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _render(request, 404)


def method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    """A GET to an address that only takes a form's POST (a bookmark, a link pasted from a button): the site's
    page saying so, with a way back, instead of Django's empty 405. ``allowed``: the original Allow header."""
    response = _render(request, 405)
    response["Allow"] = allowed
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page that was open too long (or whose cookie was blocked): say what to do."""
    return _render(request, 403, {"expired_form": True})


def server_error(request: HttpRequest) -> HttpResponse:
    if _for_api(request):
        return JsonResponse({"detail": API_DETAIL[500]}, status=500)
    name = PATIENT_TEMPLATE if _for_patient(request) else STAFF_TEMPLATES[500]
    try:
        # No request: no context processors, no user, no session. Only what the template itself holds.
        body = loader.get_template(name).render({"status": 500})
    except Exception:  # the error page must not fail; the original error is already logged
        logger.exception("The 500 page could not be rendered")
        body = LAST_RESORT
    return HttpResponse(body, status=500)

"""Responses to a signed-in user or an API client are never cached: no browser back button on a shared clinic
computer, no proxy between the clinic and the registry, keeps a copy of patient data (pages, API responses,
CIOMS PDFs, exports, the audit CSV, the admin).

One rule here rather than a decorator per view, so a new view cannot forget it. Static files (served by
whitenoise above this middleware, with far-future caching) and anonymous public pages are left alone; the
patient's own pages mark themselves private (outcomes/views_questionnaire.py, notifications/views/unsubscribe.py).
"""

from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers

from registry.views_errors import API_PREFIX, bad_request, method_not_allowed, page_not_found


class PrivateResponsesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        # Read after the view: DRF puts the token's user on the request, so a program counts as signed in. A
        # request with an Authorization header is private even when the token was refused.
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "HTTP_AUTHORIZATION" in request.META:
            add_never_cache_headers(response)  # max-age=0, no-cache, no-store, must-revalidate, private
        return response


class MethodNotAllowedPageMiddleware:
    """Django answers a wrong method (``require_POST``, a class-based view without ``get``) with an empty 405 and
    has no handler405 setting. Give it the site's error page (JSON on the API) in one place, so no view forgets.
    DRF's own 405s already carry a JSON body and are left alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            page = method_not_allowed(request, response["Allow"])
            # Keep what the view's decorators set (a patient page's Cache-Control, its cookies), not its body.
            for header, value in response.items():
                if header.lower() not in ("content-type", "content-length"):
                    page[header] = value
            page.cookies = response.cookies
            return page
        return response


NUL = "\x00"


class RefuseNulCharactersMiddleware:
    """A NUL character (``%00``) in a page's address answers 404, in its query string or in a cookie 400, before
    anything reads them. PostgreSQL text cannot hold one, so a lookup with it (the patient search, ``?patient=``,
    the audit filter, the session cookie) raised DataError, a 500. The API's query strings are left to it: its
    filters refuse a NUL by parameter (400 naming it); its token authentication refuses one in a key (401)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if NUL in request.path_info:
            return page_not_found(request, Http404())
        in_query = not request.path_info.startswith(API_PREFIX) and any(
            NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()
        )
        if in_query or any(NUL in name or NUL in value for name, value in request.COOKIES.items()):
            return bad_request(request, SuspiciousOperation("NUL character"))
        return self.get_response(request)

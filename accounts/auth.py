"""Staff sign-in rules: who must use a second factor, login throttling, and session lifetimes.

- A user must present a TOTP code (or a backup code) when any clinic they work in requires it, when
  settings.TWO_FACTOR_REQUIRED_FOR_ALL is on (the production default), or when they enrolled a device themselves
  (a second factor that is not asked for protects nothing). Until they have enrolled and verified, every page
  redirects them to enrolment or verification; the API answers 403.
- An API token (Authorization: Token ...) is a credential of its own, checked by DRF on the API only. This
  middleware sees the session's user, never the token's: a request with a token and no session passes it as
  anonymous and DRF decides; a session that owes the second factor is refused whatever header it adds (a
  made-up token, another user's, or its own). Nothing here reads the header: exempting requests that merely
  carried one let a password-only session read every HTML page (DRF never sees those) and mint a real token.
  The token page asks for a verified session whenever a second factor is required, without the one-minute cache
  below (a token outlives the session).
- Failed logins are counted by django-axes per username+IP combination in the database; this backend only
  steps aside for authenticate() calls without a request (management commands, the test client's login()),
  which no attacker can reach over HTTP.
"""

import time

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django_otp import user_has_device

SESSION_AUTH_AT = "auth_at"  # when the password was accepted: the absolute session lifetime counts from here
PENDING_SESSION_KEY = "two_factor_pending"  # password accepted, code not yet: {"user": pk, "backend": ..., "at": t}
PENDING_MAX_AGE_SECONDS = 300


class LoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only (see outcomes.ratelimit.client_ip): the proxy, not a header, decides the client address.
    # None, not a placeholder, when there is none (a test client's force_login): axes stores it in an inet column.
    return request.META.get("REMOTE_ADDR") or None


def two_factor_required(user) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(settings, "TWO_FACTOR_REQUIRED_FOR_ALL", False):
        return True
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from registry.models import Clinic
    from registry.scoping import is_administrator

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return True
    strict = Clinic.objects.filter(require_two_factor=True)
    if not strict.exists():  # the common case costs one query
        return False
    if strict.filter(memberships__user=user).exists():
        return True
    # Administrators can read every clinic, so the strictest clinic's rule applies to them.
    return user.is_staff or is_administrator(user)


CHECKED_SESSION_KEY = "two_factor_not_required_at"
RECHECK_SECONDS = 60  # a clinic's new rule reaches signed-in sessions within a minute


def two_factor_owed(request: HttpRequest) -> bool:
    """Whether this signed-in session must still present a second factor. A "not required" answer is kept in
    the session briefly, so ordinary pages pay no queries for it."""
    user = request.user
    if user.is_verified():
        return False
    checked = request.session.get(CHECKED_SESSION_KEY)
    if checked is not None and 0 <= time.time() - checked < RECHECK_SECONDS:
        return False
    if two_factor_required(user):
        request.session.pop(CHECKED_SESSION_KEY, None)
        return True
    request.session[CHECKED_SESSION_KEY] = time.time()
    return False


# Views a session that owes the second factor may still reach, by resolved view name (not by a path prefix the
# client writes): signing in and out, and the patient's own pages (no staff account involved).
TWO_FACTOR_OPEN_URLS = ("login", "logout", "two-factor-verify", "two-factor-setup")
PATIENT_VIEWS = (
    "outcomes:questionnaire",
    "outcomes:questionnaire-check",
    "outcomes:questionnaire-draft",
    "outcomes:questionnaire-opened",
    "outcomes:questionnaire-thanks",
    "notifications:unsubscribe",
)
OPEN_BEFORE_THE_SECOND_FACTOR = frozenset(TWO_FACTOR_OPEN_URLS + PATIENT_VIEWS)


def _exempt(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in OPEN_BEFORE_THE_SECOND_FACTOR


class RequireTwoFactorMiddleware:
    """After django_otp's OTPMiddleware: a session that still owes a second factor reaches nothing else, and a
    session older than SESSION_ABSOLUTE_AGE_SECONDS is ended however active it is."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = request.user
        if user.is_authenticated:
            expired = self._absolute_age_exceeded(request)
            if expired:
                logout(request)
                return redirect(f"{reverse('login')}?expired=1")
            if not _exempt(request) and two_factor_owed(request):
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"detail": "Two-factor sign-in is required for this account."}, status=403)
                return redirect_to_second_factor(request)
        return self.get_response(request)

    @staticmethod
    def _absolute_age_exceeded(request: HttpRequest) -> bool:
        limit = getattr(settings, "SESSION_ABSOLUTE_AGE_SECONDS", None)
        started = request.session.get(SESSION_AUTH_AT)
        if started is None:
            request.session[SESSION_AUTH_AT] = time.time()
            return False
        return bool(limit) and time.time() - started > limit


def redirect_to_second_factor(request: HttpRequest):
    """Enrolment for a user without a device, else the code; back here afterwards."""
    name = "two-factor-verify" if user_has_device(request.user, confirmed=True) else "two-factor-setup"
    return redirect(f"{reverse(name)}?next={request.get_full_path()}")


def mark_session_start(sender, request, user, **kwargs):
    """user_logged_in receiver: the absolute session lifetime starts at sign-in."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_AUTH_AT] = time.time()
        # Answered once at sign-in, so the first pages pay no queries for it either.
        request.session.pop(CHECKED_SESSION_KEY, None)
        if not two_factor_required(user):
            request.session[CHECKED_SESSION_KEY] = time.time()

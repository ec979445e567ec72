"""Sign-in with a second factor, TOTP enrolment with backup codes, a clinic's 2FA rule, and personal API tokens.

Sign-in is two steps: the password (throttled by django-axes), then, for a user with a confirmed device, a code.
Between the two the session holds only a short-lived "pending" marker, never a logged-in user.
"""

import time

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from accounts.auth import (
    PENDING_MAX_AGE_SECONDS,
    PENDING_SESSION_KEY,
    SESSION_AUTH_AT,
    redirect_to_second_factor,
    two_factor_required,
)
from audit.services import access_log_record
from registry.choices import Role
from registry.models import Clinic
from registry.scoping import clinics_for, get_for_user_or_404, is_administrator

BACKUP_CODE_COUNT = 10


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace(" ", "").strip()


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class LoginView(auth_views.LoginView):
    """Step 1: the password. With a confirmed device the user is not logged in yet: the code comes next."""

    def form_valid(self, form):
        user = form.get_user()
        if not user_has_device(user, confirmed=True):
            response = super().form_valid(form)
            self.request.session[SESSION_AUTH_AT] = time.time()
            return response
        self.request.session.cycle_key()
        self.request.session[PENDING_SESSION_KEY] = {
            "user": user.pk,
            "backend": user.backend,
            "at": time.time(),
            "next": self.get_redirect_url(),
        }
        return redirect("two-factor-verify")


def _pending_user(request: HttpRequest):
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return user, pending


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Step 2: a code from the authenticator app or a backup code (django-otp throttles wrong codes per device)."""
    if request.user.is_authenticated:
        user, pending = request.user, None
        if request.user.is_verified():
            return redirect(_safe_next(request, reverse("registry:patient-list")))
    else:
        user, pending = _pending_user(request)
        if user is None:
            messages.info(request, "Your sign-in timed out. Please sign in again.")
            return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["code"])
        if device is not None:
            if pending is not None:
                request.session.pop(PENDING_SESSION_KEY, None)
                user.otp_device = device  # django_otp persists it on login (its user_logged_in receiver)
                auth_login(request, user, backend=pending["backend"])
                request.session[SESSION_AUTH_AT] = time.time()
            else:
                otp_login(request, device)
            if isinstance(device, StaticDevice):
                remaining = device.token_set.count()
                messages.warning(request, f"You used a backup code; {remaining} remain.")
            default = (pending or {}).get("next") or reverse("registry:patient-list")
            return redirect(_safe_next(request, default))
        form.add_error("code", "That code is not valid. Check the time on your phone, or use a backup code.")
    return _private(
        render(request, "registration/two_factor_verify.html", {"form": form}, status=400 if form.errors else 200)
    )


def _qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def _new_backup_codes(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Backup codes", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code (drawn here, no outside service), confirm with a code, get
    backup codes once."""
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        if not user.is_verified():
            return redirect("two-factor-verify")
        messages.info(request, "Your authenticator app is already set up.")
        return redirect("registry:patient-list")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if device.verify_token(form.cleaned_data["code"]):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = _new_backup_codes(user)
                otp_login(request, device)
                return _private(
                    render(
                        request,
                        "registration/two_factor_backup_codes.html",
                        {"codes": codes, "next": _safe_next(request, reverse("registry:patient-list"))},
                    )
                )
        form.add_error("code", "That code did not match. Scan the QR code again and enter the current code.")
    context = {
        "form": form,
        "qr_svg": mark_safe(_qr_svg(device)),  # generated by qrcode from our own otpauth URL
        "secret": _base32(device.bin_key),
        "next": request.GET.get("next", ""),
    }
    return _private(render(request, "registration/two_factor_setup.html", context, status=400 if form.errors else 200))


def _base32(key: bytes) -> str:
    import base64

    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@login_required
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    """New backup codes (the old ones stop working); only from a verified session."""
    if not request.user.is_verified():
        raise PermissionDenied("Sign in with your authenticator app first.")
    codes = _new_backup_codes(request.user)
    return _private(
        render(
            request,
            "registration/two_factor_backup_codes.html",
            {"codes": codes, "next": reverse("registry:patient-list")},
        )
    )


@login_required
@require_http_methods(["GET", "POST"])
def clinic_two_factor(request: HttpRequest, pk: int) -> HttpResponse:
    """A clinic lead or an administrator turns the clinic's 2FA rule on or off."""

    clinic = get_for_user_or_404(clinics_for(request.user), pk=pk)  # another clinic's: 404
    is_lead = clinic.memberships.filter(user=request.user, role=Role.LEAD).exists()
    if not (is_lead or is_administrator(request.user)):
        raise PermissionDenied("Only the clinic's lead or an administrator can change this.")
    if request.method == "POST":
        required = request.POST.get("require_two_factor") == "on"
        if required != clinic.require_two_factor:
            Clinic.objects.filter(pk=clinic.pk).update(require_two_factor=required)
            access_log_record(
                request,
                action="setting",
                obj=clinic,
                detail=f"require_two_factor={'on' if required else 'off'}",
            )
        messages.success(request, f"Two-factor sign-in {'required' if required else 'optional'} for {clinic}.")
        return redirect("clinic-two-factor", pk=clinic.pk)
    return render(request, "registration/clinic_two_factor.html", {"clinic": clinic})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """The user's own API token: created (shown once) and revoked here. One token per user.

    A token outlives the session and skips the second factor, so it is only handed to a session that passed the
    second factor whenever one is required, asked afresh (not the middleware's one-minute "not required")."""
    if two_factor_required(request.user) and not request.user.is_verified():
        return redirect_to_second_factor(request)
    token = Token.objects.filter(user=request.user).first()
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke" and token is not None:
            token.delete()
            token = None
            messages.success(request, "Your API token was revoked; programs using it are signed out.")
        elif action == "create":
            Token.objects.filter(user=request.user).delete()
            token = Token.objects.create(user=request.user)
            new_key = token.key
    return _private(render(request, "registration/api_token.html", {"token": token, "new_key": new_key}))

"""A session that still owes its second factor reaches nothing but the sign-in pages and the patient's own pages,
whatever else the request carries: no Authorization header, a made-up token, another user's valid token, or the
user's own valid token. An API token is a credential of its own only on a request that carries no such session.

Every route of the project is walked (tests/security/routes.py), so a new page or endpoint is covered without
an entry here; the admin is walked one page per model.
"""

import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.security.test_permission_matrix import MATRIX_AT, app_routes, path_for, world  # noqa: F401 - fixture

# Reachable before the second factor: signing in and out, and the patient's own pages (no staff account involved).
OPEN_BEFORE_THE_SECOND_FACTOR = {"login", "logout", "two-factor-verify", "two-factor-setup"}
PATIENT_PAGES = ("outcomes:questionnaire", "notifications:unsubscribe")


def _headers(variant: str, own: Token, other: Token) -> dict:
    return {
        "none": {},
        "bogus token": {"HTTP_AUTHORIZATION": "Token x"},
        "another user's valid token": {"HTTP_AUTHORIZATION": f"Token {other.key}"},
        "own valid token": {"HTTP_AUTHORIZATION": f"Token {own.key}"},
    }[variant]


VARIANTS = ("none", "bogus token", "another user's valid token", "own valid token")


def _refused(response, url: str) -> str | None:
    """None when the response refuses the session; else what went wrong."""
    if url.startswith("/api/"):
        if response.status_code == 403 and b"Two-factor" in response.content:
            return None
        return f"{response.status_code} {response.content[:80]!r}"
    if response.status_code == 302 and response["Location"].startswith(reverse("two-factor-setup")):
        return None
    return f"{response.status_code} {response.get('Location', '')}"


@pytest.fixture
def owing(settings, world, clinician, lead):  # noqa: F811 - the matrix's fixture
    settings.TWO_FACTOR_REQUIRED_FOR_ALL = True
    objects, users = world
    own = Token.objects.create(user=clinician)
    other = Token.objects.create(user=lead)
    return objects, users, own, other


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_session_owing_the_second_factor_is_refused_on_every_route(owing, clinician, variant):
    objects, _, own, other = owing
    headers = _headers(variant, own, other)
    client = Client(raise_request_exception=False)
    client.force_login(clinician)  # the password was accepted; no device yet
    wrong = []
    checked = 0
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in app_routes():
            if route.name in OPEN_BEFORE_THE_SECOND_FACTOR or route.name.startswith(PATIENT_PAGES):
                continue
            url = path_for(route, objects)
            for method in ("GET", "POST"):
                response = client.get(url, **headers) if method == "GET" else client.post(url, {}, **headers)
                checked += 1
                problem = _refused(response, url)
                if problem:
                    wrong.append(f"{method} {route.name} ({url}): {problem}")
    assert checked > 100  # the walk reached the routes
    assert not wrong, f"with {variant}:\n" + "\n".join(wrong)
    # Nothing was minted on the token page: the two tokens are the ones made above.
    assert set(Token.objects.values_list("key", flat=True)) == {own.key, other.key}


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_administrator_owing_the_second_factor_reaches_no_admin_page(owing, admin_user, variant):
    _, _, own, other = owing
    headers = _headers(variant, own, other)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    wrong = []
    with time_machine.travel(MATRIX_AT, tick=True):
        urls = [reverse("admin:index")] + [
            reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry
        ]
        for url in urls:
            problem = _refused(client.get(url, **headers), url)
            if problem:
                wrong.append(f"GET {url}: {problem}")
    assert not wrong, f"with {variant}:\n" + "\n".join(wrong)


def test_a_token_alone_still_reaches_the_api_and_no_page(settings, clinician, patient):
    """The token is a credential of its own on a request without a session (an integrator's program)."""
    settings.TWO_FACTOR_REQUIRED_FOR_ALL = True
    token = Token.objects.create(user=clinician)
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert client.get(f"/api/v1/patients/{patient.pk}/", **headers).status_code == 200
    assert client.get("/api/v1/patients/", HTTP_AUTHORIZATION="Token x").status_code == 401
    # Token authentication applies to the API only: an HTML page sends the program to sign in.
    page = client.get(reverse("registry:patient-list"), **headers)
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))
    assert client.post(reverse("api-token"), {"action": "create"}, **headers).status_code == 302
    assert Token.objects.filter(user=clinician).count() == 1


def test_the_token_page_asks_for_the_second_factor_as_soon_as_a_clinic_requires_it(client, clinic, clinician):
    """Signed in while the clinic did not require a code, the session's "not required" answer is kept for a
    minute (accounts/auth.py); the token page does not rely on it: a token outlives the session."""
    client.force_login(clinician)
    assert client.get(reverse("registry:patient-list")).status_code == 200
    clinic.require_two_factor = True
    clinic.save()
    response = client.post(reverse("api-token"), {"action": "create"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two-factor-setup"))
    assert not Token.objects.filter(user=clinician).exists()

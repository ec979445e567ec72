"""Nothing shown to a signed-in user or an API client is kept by a browser's or a proxy's cache: every response
carries Cache-Control no-store and private (a shared computer's back button, a proxy in a clinic's network).
Every route is walked (tests/security/routes.py) for a signed-in user, the admin one page per model, and every
API route for a program with a token and no session; the patient's own pages (the link is the key) too.
"""

import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from outcomes.views_questionnaire import THANKS_SALT
from tests.security.test_permission_matrix import MATRIX_AT, app_routes, path_for, world  # noqa: F401 - fixture


def _not_private(response) -> str | None:
    directives = {d.strip().split("=")[0] for d in response.get("Cache-Control", "").split(",")}
    if {"no-store", "private"} <= directives and "public" not in directives:
        return None
    return f"{response.status_code} Cache-Control: {response.get('Cache-Control')!r}"


def _walk(client, routes, objects, **headers) -> list[str]:
    wrong = []
    for route in routes:
        url = path_for(route, objects)
        for method in ("GET", "POST"):
            response = client.get(url, **headers) if method == "GET" else client.post(url, {}, **headers)
            problem = _not_private(response)
            if problem:
                wrong.append(f"{method} {route.name} ({url}): {problem}")
    return wrong


@pytest.mark.parametrize("persona", ["clinician", "auditor", "admin"])
def test_every_page_to_a_signed_in_user_is_private(world, persona):  # noqa: F811 - the matrix's fixture
    objects, users = world
    client = Client(raise_request_exception=False)
    client.force_login(users[persona])
    with time_machine.travel(MATRIX_AT, tick=True):
        routes = [r for r in app_routes() if r.name != "logout"]  # signs out: the rest of the walk would be anonymous
        wrong = _walk(client, routes, objects)
    assert not wrong, "\n".join(wrong)


def test_every_admin_page_is_private(world):  # noqa: F811
    _, users = world
    client = Client(raise_request_exception=False)
    client.force_login(users["admin"])
    wrong = []
    with time_machine.travel(MATRIX_AT, tick=True):
        urls = [reverse("admin:index")]
        for model in admin.site._registry:
            info = (model._meta.app_label, model._meta.model_name)
            urls.append(reverse("admin:{}_{}_changelist".format(*info)))
            instance = model._default_manager.first()
            if instance is not None:
                urls.append(reverse("admin:{}_{}_change".format(*info), args=[instance.pk]))
        for url in urls:
            problem = _not_private(client.get(url))
            if problem:
                wrong.append(f"GET {url}: {problem}")
    assert len(urls) > 20
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("token_kind", ["valid", "bogus"])
def test_every_api_response_to_a_program_is_private(world, token_kind):  # noqa: F811
    objects, users = world
    key = Token.objects.create(user=users["clinician"]).key if token_kind == "valid" else "x"
    client = Client(raise_request_exception=False)
    api_routes = [r for r in app_routes() if r.route.startswith("api/")]
    assert len(api_routes) > 15
    with time_machine.travel(MATRIX_AT, tick=True):
        wrong = _walk(client, api_routes, objects, HTTP_AUTHORIZATION=f"Token {key}")
    assert not wrong, "\n".join(wrong)


def test_the_patients_own_pages_are_private_without_a_sign_in(world):  # noqa: F811
    """The questionnaire (every step and the states of a link), the unsubscribe page and the patient's copy of a
    consultation (page and PDF): the link is the key."""
    from django.core import signing

    objects, _ = world
    patient_routes = [
        r for r in app_routes() if r.name.startswith(("outcomes:questionnaire", "notifications:unsub", "patient-copy:"))
    ]
    assert len(patient_routes) >= 8
    client = Client(raise_request_exception=False)
    thanks = signing.dumps({"c": objects["clinic"]}, salt=THANKS_SALT)
    with time_machine.travel(MATRIX_AT, tick=True):
        wrong = _walk(client, patient_routes, objects)
        for url in (
            reverse("outcomes:questionnaire", args=["no-such-link"]),
            reverse("notifications:unsubscribe", args=["no-such-token"]),
            reverse("patient-copy:page", args=["no-such-link"]),
            f"{reverse('outcomes:questionnaire-thanks')}?s={thanks}",
        ):
            problem = _not_private(client.get(url))
            if problem:
                wrong.append(f"GET {url}: {problem}")
    assert not wrong, "\n".join(wrong)

"""A GET to an address that only takes a POST (a button's target, bookmarked or pasted) answers 405 with the
site's error page and a way back, in the patient's layout on their links and as JSON on the API; never Django's
empty 405. Every such route is found by walking the URL resolver as each role."""

import time_machine
from django.test import Client

from tests.registry.test_error_pages import assert_patient_layout, assert_staff_layout
from tests.security.routes import path_for
from tests.security.test_permission_matrix import MATRIX_AT, ROLES, app_routes, world  # noqa: F401 - a fixture


def _problem(response, url: str, *, signed_in: bool) -> str | None:
    if response.status_code != 405:
        return None
    if not response.get("Allow"):
        return "no Allow header"
    if url.startswith("/api/"):
        if response["Content-Type"] != "application/json":
            return f"API 405 as {response['Content-Type']}"
        return None if response.json() == {"detail": 'Method "GET" not allowed.'} else f"body {response.content!r}"
    html = response.content.decode()
    try:
        if url.startswith(("/q/", "/unsubscribe/")):
            assert_patient_layout(html)
        else:
            assert_staff_layout(html, signed_in=signed_in)
            assert "<h1>Nothing to show at this address</h1>" in html
            assert ('href="/attention/"' if signed_in else 'href="/accounts/login/"') in html  # a way back
    except AssertionError as failed:
        return f"not the site's 405 page ({failed!s:.80}): {html[:80]!r}"
    return None


def test_every_post_only_route_answers_get_with_the_sites_405_page(world):  # noqa: F811
    objects, users = world
    found, wrong = set(), []
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in app_routes():
            url = path_for(route, objects)
            for role in ROLES:
                client = Client(raise_request_exception=False)
                if users[role] is not None:
                    client.force_login(users[role])
                response = client.get(url)
                if response.status_code == 405:
                    found.add(route.name)
                problem = _problem(response, url, signed_in=users[role] is not None)
                if problem:
                    wrong.append(f"GET {url} as {role}: {problem}")
    assert not wrong, "\n".join(wrong)
    # The walk found the button targets (a new one is covered without being named here).
    assert {
        "logout",
        "outcomes:questionnaire-opened",
        "outcomes:questionnaire-draft",
        "safety:flag-dismiss",
        "notifications:call-attempt",
        "two-factor-backup-codes",
        "outcomes-api:instrument-score",
    } <= found


def test_the_405_page_leads_back_to_where_the_user_came_from(client, clinician):
    client.force_login(clinician)
    response = client.get("/accounts/logout/", HTTP_REFERER="http://testserver/patients/")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert 'href="/patients/">Back to the page you came from</a>' in response.content.decode()


def test_the_405_page_is_private_to_a_signed_in_user(client, clinician):
    client.force_login(clinician)
    response = client.get("/accounts/logout/")
    assert "no-store" in response["Cache-Control"]

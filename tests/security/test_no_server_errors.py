"""No request a person or a program can make answers 5xx, or an error with an empty body: every route the URL
resolver yields (the admin aside: its pages are Django's), as an anonymous visitor and as each role, with every HTTP
method and with malformed query strings; every API route with made-up or malformed tokens. Real object ids of the
clinic fill the paths (the permission matrix's world), so the views run to the end rather than stopping at a 404."""

import pytest
import time_machine
from django.test import Client

from tests.security.routes import path_for
from tests.security.test_permission_matrix import MATRIX_AT, ROLES, app_routes, world  # noqa: F401 - a fixture

METHODS = ("get", "head", "options", "post", "put", "patch", "delete")
# Query strings a bookmark, a crawler or a curious user sends: wrong types, empty, negative, huge, NUL, injection.
HOSTILE_QUERIES = (
    "limit=-1&offset=x",
    "limit=99999999999999999999&offset=99999999999999999999",
    "page=0&sort=-id%3BDROP",
    "q=%00&search=%00&patient=%00",
    "patient=abc&clinic=-1&product=nonsense&status=%FF",
    "s=not-signed&next=//evil.example/&format=xml",
    "injected_after=yesterday&date_from=2026-02-30&since=9999-99-99",
    "table=%2e%2e%2f&code=../../etc/passwd&timepoint=%20",
)
BOGUS_AUTHORIZATION = (
    "Token x",
    "Token " + "f" * 40,
    "Token ",
    "Token a b",
    "Token \x00",
    "Bearer " + "f" * 40,
    "Basic Og==",
    "Token " + "é" * 40,
)


def _send(client: Client, method: str, url: str, **extra):
    if method in ("post", "put", "patch") and url.startswith("/api/"):
        return getattr(client, method)(url, "{}", content_type="application/json", **extra)
    if method in ("put", "patch", "delete"):
        return getattr(client, method)(url, "", content_type="application/x-www-form-urlencoded", **extra)
    return getattr(client, method)(url, **extra)


def _walk(requests) -> list[str]:
    """requests: (label, client, method, url, extra headers). The ones answering 5xx, with the start of their body,
    and errors with no body at all (Django's bare 405 was one: a blank page, or nothing for a program to read)."""
    failures = []
    for label, client, method, url, extra in requests:
        response = _send(client, method, url, **extra)
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {url} {label}: {response.status_code} {response.content[:200]!r}")
        elif response.status_code >= 400 and method != "head" and not response.content:
            failures.append(f"{method.upper()} {url} {label}: an empty {response.status_code}")
    return failures


def _client(users, role: str) -> Client:
    client = Client(raise_request_exception=False)
    if users[role] is not None:
        client.force_login(users[role])
    return client


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_or_an_empty_error_to_any_method_as_any_role(world, role):  # noqa: F811
    objects, users = world
    client = _client(users, role)
    routes = app_routes()
    assert len(routes) > 60
    with time_machine.travel(MATRIX_AT, tick=True):
        failures = _walk(
            (f"as {role}", client, method, path_for(route, objects), {}) for route in routes for method in METHODS
        )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["anonymous", "clinician", "auditor", "admin"])
def test_no_route_answers_5xx_to_malformed_query_strings(world, role):  # noqa: F811
    objects, users = world
    client = _client(users, role)
    with time_machine.travel(MATRIX_AT, tick=True):
        failures = _walk(
            (f"as {role}", client, "get", f"{path_for(route, objects)}?{query}", {})
            for route in app_routes()
            for query in HOSTILE_QUERIES
        )
    assert not failures, "\n".join(failures)


def test_no_api_route_answers_5xx_to_a_bogus_token(world):  # noqa: F811
    objects, _ = world
    client = Client(raise_request_exception=False)
    api_routes = [r for r in app_routes() if r.route.startswith("api/")]
    assert len(api_routes) > 15
    refused = []
    with time_machine.travel(MATRIX_AT, tick=True):
        requests = [
            (f"with Authorization {header!r}", client, method, path_for(route, objects), {"HTTP_AUTHORIZATION": header})
            for route in api_routes
            for method in METHODS
            for header in BOGUS_AUTHORIZATION
        ]
        failures = _walk(requests)
        # And the token is refused, not ignored, wherever the API needs one (the schema and its docs are public).
        for route in api_routes:
            if route.name in ("schema", "api-docs"):
                continue
            response = client.get(path_for(route, objects), HTTP_AUTHORIZATION="Token " + "f" * 40)
            if response.status_code != 401:
                refused.append(f"{route.name}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert not refused, refused

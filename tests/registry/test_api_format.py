"""An API address asked for a representation it does not offer (``?format=xml``, ``Accept: application/xml``)
answers 406 with a JSON message naming the formats it does offer, never a 404 that says the record is missing."""

import time_machine
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.security.routes import path_for
from tests.security.test_permission_matrix import MATRIX_AT, app_routes, world  # noqa: F401 - a fixture

UNKNOWN_FORMATS = ("xml", "csv", "html", "api", "yaml", "JSON", "json%00")


def api_get_routes():
    """Every API route that answers GET (lists and details), by the permission matrix's table."""
    from tests.security.test_permission_matrix import GET, ROLES

    routes = [r for r in app_routes() if r.route.startswith("api/v") and GET[r.name][ROLES.index("clinician")] == 200]
    assert len([r for r in routes if r.name.endswith(("-list", "summary"))]) >= 9
    return routes


def test_every_api_route_answers_an_unknown_format_with_406_in_json(world):  # noqa: F811
    objects, users = world
    client = Client(raise_request_exception=False)
    key = Token.objects.create(user=users["clinician"]).key
    wrong = []
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in api_get_routes():
            url = path_for(route, objects)
            for fmt in UNKNOWN_FORMATS:
                response = client.get(f"{url}?format={fmt}", HTTP_AUTHORIZATION=f"Token {key}")
                body = response.json() if response["Content-Type"] == "application/json" else None
                if response.status_code != 406 or not body or "Unknown format" not in body.get("detail", ""):
                    wrong.append(f"{url}?format={fmt}: {response.status_code} {response.content[:120]!r}")
            if client.get(f"{url}?format=json", HTTP_AUTHORIZATION=f"Token {key}").status_code != 200:
                wrong.append(f"{url}?format=json is refused")
    assert not wrong, "\n".join(wrong)


def test_the_message_says_what_to_send_instead(world):  # noqa: F811
    _, users = world
    client = Client()
    client.force_login(users["clinician"])
    response = client.get("/api/v1/patients/?format=xml")
    assert response.status_code == 406
    assert response.json() == {
        "detail": "Unknown format 'xml': this address answers json only. Leave out `format` (or send format=json)."
    }


def test_an_unsatisfiable_accept_header_answers_406_in_json(world):  # noqa: F811
    _, users = world
    client = Client()
    client.force_login(users["clinician"])
    response = client.get("/api/v1/patients/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert "Accept" in response.json()["detail"]


def test_an_anonymous_request_with_an_unknown_format_is_not_told_anything_about_records(db):
    response = Client().get("/api/v1/patients/?format=xml")
    assert response.status_code == 406  # the representation is refused before anyone is signed in
    assert set(response.json()) == {"detail"}

"""A NUL character (%00) in an address, a query string, an API token or a cookie answers 400 (JSON on the API),
never PostgreSQL's DataError as a 500. Found by tests/security/test_no_server_errors.py against PostgreSQL: the
patient search, the adverse-event page's ?patient= and every API route with `Authorization: Token \\x00`."""

import pytest
from django.test import Client

from tests.service_checks import postgres_required  # noqa: F401 - a fixture


@pytest.fixture
def signed_in(clinician):
    client = Client(raise_request_exception=False)
    client.force_login(clinician)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/patients/?q=%00",
        "/patients/?%00=1",
        "/adverse-events/new/?patient=KR-%00",
        "/patients/KR-%00/",
        "/api/v1/patients/?search=%00",
        "/audit/?q=%00",
    ],
)
def test_a_nul_in_the_address_or_query_is_a_400(postgres_required, signed_in, url):  # noqa: F811
    response = signed_in.get(url)
    assert response.status_code == 400, response.content[:200]
    if url.startswith("/api/"):
        assert "NUL character" in response.json()["detail"]
    else:
        assert "<h1>Bad request</h1>" in response.content.decode()


def test_a_nul_in_an_api_token_is_a_400_in_json(postgres_required, db):  # noqa: F811
    response = Client(raise_request_exception=False).get("/api/v1/patients/", HTTP_AUTHORIZATION="Token \x00")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The Authorization header contains a NUL character (%00), which nothing here accepts."
    }


def test_a_nul_in_the_session_cookie_is_a_400(postgres_required, db):  # noqa: F811
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    response = client.get("/patients/")
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.content.decode()


def test_a_nul_in_the_sign_in_form_is_a_form_error(postgres_required, db):  # noqa: F811
    response = Client(raise_request_exception=False).post(
        "/accounts/login/", {"username": "dr\x00north", "password": "x\x00"}
    )
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()


def test_ordinary_requests_pass(signed_in, patient):
    assert signed_in.get("/patients/?q=North").status_code == 200
    assert signed_in.get(f"/patients/{patient.registry_number}/").status_code == 200

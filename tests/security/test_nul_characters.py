"""A NUL character (%00) never reaches PostgreSQL (whose DataError was a 500): in a page's query string or a cookie
it answers 400, in an address 404, in an API token 401 (the API's own filters already answered 400 naming the
parameter). Found by tests/security/test_no_server_errors.py against PostgreSQL: the patient search, the
adverse-event page's ?patient=, the audit filter, and every API route with `Authorization: Token \\x00`."""

import pytest
from django.test import Client

from tests.service_checks import postgres_required  # noqa: F401 - a fixture


@pytest.fixture
def signed_in(clinician):
    client = Client(raise_request_exception=False)
    client.force_login(clinician)
    return client


@pytest.mark.parametrize(
    "url", ["/patients/?q=%00", "/patients/?%00=1", "/adverse-events/new/?patient=KR-%00", "/audit/?q=%00"]
)
def test_a_nul_in_a_pages_query_string_is_a_400(postgres_required, signed_in, url):  # noqa: F811
    response = signed_in.get(url)
    assert response.status_code == 400, response.content[:200]
    assert "<h1>Bad request</h1>" in response.content.decode()


@pytest.mark.parametrize("url", ["/patients/KR-%00/", "/api/v1/patients/%00/"])
def test_a_nul_in_an_address_is_a_404(postgres_required, signed_in, url):  # noqa: F811
    assert signed_in.get(url).status_code == 404


def test_the_api_names_the_parameter_with_a_nul(postgres_required, signed_in):  # noqa: F811
    response = signed_in.get("/api/v1/patients/?q=%00")
    assert response.status_code == 400
    assert response.json() == {"q": ["Null characters are not allowed."]}


@pytest.mark.parametrize("header", ["Token \x00", "Token abc\x00def"])
def test_a_nul_in_an_api_token_is_an_invalid_token(postgres_required, db, header):  # noqa: F811
    response = Client(raise_request_exception=False).get("/api/v1/patients/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


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

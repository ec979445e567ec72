"""Schemathesis fuzzes the REST API from its own OpenAPI schema (/api/schema/), in process through WSGI, signed
in as a clinician with an API token: no response is a 500, every status and content type is documented, and
every body matches its documented schema, errors included. Bounded: API_FUZZ_EXAMPLES examples per operation
(default 6; the whole file runs in well under two minutes), derandomised.

A known gap gets pinned here as a strict xfail (it turns into a failure once fixed, so the marker gets removed),
excluded from the fuzz run only for the one check that trips on it. None is pinned at present.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from safety import services
from tests.factories import PatientFactory, make_injection
from tests.safety.ae_support import record

FUZZ_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))

# Loaded at collection through the app itself (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go through the real WSGI handler, whose request_finished signal closes the database connection
    (and with it the test's transaction, on PostgreSQL). Django's own test client unhooks it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def clinician_token(clinician, patient):
    make_injection(patient, clinician)  # real rows, so list and detail responses have bodies to validate
    return Token.objects.create(user=clinician).key


FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure in CI reproduces on a laptop
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_api_never_fails_and_matches_its_schema(case, clinician_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {clinician_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


def _validate(method: str, path: str, token: str, checks) -> None:
    operation = schema[path][method]
    case = operation.Case(query={"limit": 5} if method == "GET" and path.endswith("/") else None)
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=checks)


def test_patient_list_body_matches_schema(clinician_token):
    _validate("GET", "/api/v1/patients/", clinician_token, [response_schema_conformance])


def test_follow_up_list_body_matches_schema(clinician_token):
    _validate("GET", "/api/v1/follow-ups/", clinician_token, [response_schema_conformance])


# Each error status the schema documents, provoked for real: the status is documented for the operation
# (status_code_conformance) and the body has the documented shape (response_schema_conformance).
ERROR_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def _error_case(method: str, path: str, token: str | None, expected: int, **case_kwargs) -> dict:
    if "body" in case_kwargs:
        case_kwargs["media_type"] = "application/json"
    case = schema[path][method].Case(**case_kwargs)
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = case.call_and_validate(headers=headers, checks=ERROR_CHECKS)
    assert response.status_code == expected, response.text
    return response.json()


def test_another_clinics_patient_is_a_documented_404(clinician_token, other_clinic):
    stranger = PatientFactory(clinic=other_clinic)
    body = _error_case("GET", "/api/v1/patients/{id}/", clinician_token, 404, path_parameters={"id": stranger.pk})
    assert set(body) == {"detail"}


def test_a_request_without_a_token_is_a_documented_401(db):
    body = _error_case("GET", "/api/v1/patients/", None, 401)
    assert set(body) == {"detail"}


def test_an_auditor_correcting_a_patient_is_a_documented_403(auditor, patient):
    token = Token.objects.create(user=auditor).key
    body = _error_case(
        "PATCH", "/api/v1/patients/{id}/", token, 403, path_parameters={"id": patient.pk}, body={"phone": "0"}
    )
    assert set(body) == {"detail"}


def test_invalid_input_is_a_documented_400_by_field(clinician_token, clinic):
    body = _error_case(
        "POST", "/api/v1/patients/", clinician_token, 400, body={"clinic": clinic.pk, "year_of_birth": "soon"}
    )
    assert isinstance(body["year_of_birth"], list)
    assert "detail" not in body


def test_an_invalid_filter_is_a_documented_400(clinician_token):
    body = _error_case("GET", "/api/v1/injections/", clinician_token, 400, query={"injected_after": "yesterday"})
    assert set(body) == {"injected_after"}


def test_a_stale_correction_is_a_documented_409(clinician_token, clinician, injection):
    event = record(clinician, injection)
    services.adverse_event_correct(
        event=event, by=clinician, data={"severity": 3}, reason="Reassessed", expected_version=1
    )
    body = _error_case(
        "PATCH",
        "/api/v1/adverse-events/{id}/",
        clinician_token,
        409,
        path_parameters={"id": event.pk},
        body={"severity": 1, "reason": "From an old screen", "version": 1},
    )
    assert body["current_version"] == 2


def test_an_address_no_api_route_matches_answers_json_404(clinician_token):
    client = Client()
    response = client.get("/api/v1/patients/not-a-number/", HTTP_AUTHORIZATION=f"Token {clinician_token}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")  # outside the API: Django's own page, not JSON
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_message_filter_with_a_huge_number_is_not_a_server_error(clinician_token):
    client = Client(raise_request_exception=False)
    response = client.get(
        "/api/v1/messages/", {"follow_up": "-2.1427623562763036e+172"}, HTTP_AUTHORIZATION=f"Token {clinician_token}"
    )
    assert response.status_code < 500

"""Schemathesis fuzzes the REST API from its own OpenAPI schema (/api/schema/), in process through WSGI, signed
in as a clinician with an API token: no response is a 500, every response has a documented content type, and
every response whose status the schema documents has a body that matches it. Bounded: API_FUZZ_EXAMPLES
examples per operation (default 12; the whole file runs in well under two minutes), derandomised.

Known gaps in other engineers' code are pinned below as strict xfails (they turn into failures once fixed, so
the marker gets removed): they are excluded from the fuzz run only for the one check that trips on them.
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
from tests.factories import make_injection

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
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )


def _validate(method: str, path: str, token: str, checks) -> None:
    operation = schema[path][method]
    case = operation.Case(query={"limit": 5} if method == "GET" and path.endswith("/") else None)
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=checks)


def test_patient_list_body_matches_schema(clinician_token):
    _validate("GET", "/api/v1/patients/", clinician_token, [response_schema_conformance])


def test_follow_up_list_body_matches_schema(clinician_token):
    _validate("GET", "/api/v1/follow-ups/", clinician_token, [response_schema_conformance])


@pytest.mark.xfail(
    strict=True,
    reason=(
        "all API apps: the schema documents only success statuses; 400 (validation), 403 (auditor write) and 404 "
        "(outside the user's clinics) are real answers but undocumented (add them with extend_schema responses or "
        "a drf-spectacular postprocessing hook; status_code_conformance then passes)"
    ),
)
def test_error_statuses_are_documented(clinician_token):
    _validate("GET", "/api/v1/patients/{id}/", clinician_token, [status_code_conformance])


def test_message_filter_with_a_huge_number_is_not_a_server_error(clinician_token):
    client = Client(raise_request_exception=False)
    response = client.get(
        "/api/v1/messages/", {"follow_up": "-2.1427623562763036e+172"}, HTTP_AUTHORIZATION=f"Token {clinician_token}"
    )
    assert response.status_code < 500

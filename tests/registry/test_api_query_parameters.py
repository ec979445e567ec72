"""Every list of the API, and every other operation that reads query parameters, is walked from the URL conf and
the schema, so a new list or filter is covered without touching this file.

Paging and filter values that cannot mean anything (huge, negative, empty, non-numeric, malformed dates and
times, unknown choices, NUL bytes) answer 400 with a message under the parameter's name: never a 500, never a
silently ignored filter, never a page larger than the maximum. Addresses with a malformed id answer 404.
"""

import pytest
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from rest_framework.authtoken.models import Token

from outcomes.models import Timepoint
from registry.api.mixins import MAX_ID, RegistryPagination
from registry.choices import Role
from safety.services import flags_evaluate
from tests.factories import ClinicFactory, PatientFactory, staff
from tests.safety.ae_support import record

pytestmark = pytest.mark.django_db

HUGE = "9" * 30  # past 64 bits: PostgreSQL says "bigint out of range", SQLite raises OverflowError
# GET operations without a path parameter that are not record lists, and why they have no pages.
NOT_LISTS = {
    "/api/v1/outcomes/summary/": "one summary of the cohort",
    "/api/v1/instruments/": "the handful of instruments the code defines, not records",
}
OUTSIDE_THE_API = {"/api/schema/", "/api/docs/"}  # drf-spectacular's own views

# Values a parameter of each documented type must refuse.
BAD_VALUES = {
    "integer": ["", "null", "abc", "-1", "1.5", HUGE, "1e400", str(MAX_ID + 1)],
    "boolean": ["", "null", "maybe", "2"],
    "date": ["", "null", "yesterday", "2026-02-30", "99999-01-01", HUGE],
    "date-time": [
        "",
        "null",
        "yesterday",
        "2026-02-30T10:00:00Z",
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    ],
    "enum": ["", "null", "no-such-value", "\x00"],
    "string": ["", "\x00"],
}
# Unusual values a parameter of each type must still take (200): a UTC offset PostgreSQL itself would refuse
# (past +-15:59) and an early year are valid ISO 8601 times.
GOOD_VALUES = {"date-time": ["1903-07-08T18:35:20.023831-16:03", "0450-04-20T08:03:27Z", "2026-03-01T12:00:00+14:00"]}
BAD_PAGING = {
    "limit": ["0", str(RegistryPagination.max_limit + 1), "100000", HUGE],
    "offset": [str(MAX_ID + 1), HUGE],
}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _get_endpoints() -> dict[str, type]:
    """Every GET route of the API from the URL conf: path (as the schema writes it) -> view class."""
    return {
        path.replace("{pk}", "{id}"): callback.cls
        for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints()
        if method == "GET" and path not in OUTSIDE_THE_API
    }


def list_paths() -> list[str]:
    return sorted(path for path in _get_endpoints() if "{" not in path and path not in NOT_LISTS)


def detail_paths() -> list[str]:
    return sorted(path for path in _get_endpoints() if "{" in path)


def query_paths() -> list[str]:
    """Every GET operation whose schema documents query parameters (lists, the summary...)."""
    schema = _schema()
    return sorted(
        path
        for path in _get_endpoints()
        if any(p["in"] == "query" for p in schema["paths"][path]["get"].get("parameters", []))
    )


def _kind(parameter: dict) -> str:
    schema = parameter["schema"]
    if schema.get("type") == "array":
        schema = schema["items"]
    if "enum" in schema:
        return "enum"
    return schema.get("format") if schema.get("format") in ("date", "date-time") else schema.get("type", "string")


@pytest.fixture
def token_client(admin_user):
    client = Client(raise_request_exception=False)  # a crash must show up as the 500 a client would see
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=admin_user).key}"
    return client


@pytest.fixture
def three_of_everything(journey, clinic, other_clinic, clinician):
    """At least three rows in every list an administrator sees: clinics, patients, injections, follow-ups,
    messages, flags, adverse events, consultations, fallback reviews and courses due for one."""
    from consultations.review_services import record_review
    from tests.consultations.factories import make_consultation
    from tests.consultations.review_data import course

    ClinicFactory(name="East Knee Clinic")
    for _ in range(3):
        make_consultation(PatientFactory(clinic=clinic), clinician)
        knee = journey(patient=PatientFactory(clinic=clinic))
        knee.baseline()
        flags_evaluate(knee.one_month(**{"SAFETY.fever": "yes"}).pk)
        record(clinician, knee.injection)
        assert knee.follow_up(Timepoint.SIX_MONTHS)
        # Injected 2 Mar 2026, past their review point now: one reviewed, one still due.
        reviewed = course(clinic, clinician)
        data = {"reviewed_on": reviewed.injections.get().injected_on, "offered": ["nothing"], "path_taken": "nothing"}
        record_review(user=clinician, plan=reviewed, data=data)
        course(clinic, clinician)
    # Reminder comparisons: two stopped, one running (one runs per clinic at a time).
    from outcomes.reminders import comparison_start, comparison_stop

    lead = staff(clinic, Role.LEAD, username="lead_of_three")
    for number in range(3):
        comparison = comparison_start(
            clinic=clinic,
            by=lead,
            question=f"Comparison {number}",
            starts_on=timezone.localdate(),
            arm_a={"name": "Text on day 7", "text_reminder_days": [7]},
            arm_b={"name": "No text", "text_reminders": False},
        )
        if number < 2:
            comparison_stop(comparison=comparison, by=lead, reason="Next one")


def test_every_get_route_without_an_id_is_a_paginated_list_or_named_here():
    assert set(list_paths()) >= {
        "/api/v1/clinics/",
        "/api/v1/patients/",
        "/api/v1/injections/",
        "/api/v1/follow-ups/",
        "/api/v1/flags/",
        "/api/v1/adverse-events/",
        "/api/v1/messages/",
    }
    schema = _schema()
    for path in list_paths():
        operation = schema["paths"][path]["get"]
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert page.split("/")[-1].startswith("Paginated"), path
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert parameters["limit"]["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": RegistryPagination.max_limit,
            "default": RegistryPagination.default_limit,
        }, path
        assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_ID}, path
        assert "400" in operation["responses"], path


@pytest.mark.parametrize("path", list_paths())
def test_pages_are_never_larger_than_the_maximum(path, token_client, three_of_everything, monkeypatch):
    monkeypatch.setattr(RegistryPagination, "max_limit", 2)
    monkeypatch.setattr(RegistryPagination, "default_limit", 2)
    for query in ({}, {"limit": 2}, {"limit": 2, "offset": 1}):
        response = token_client.get(path, query)
        assert response.status_code == 200, (path, query, response.content)
        body = response.json()
        assert body["count"] >= 3, path  # there is more than one page to cut
        assert len(body["results"]) == 2, (path, query)
    too_many = token_client.get(path, {"limit": 3})
    assert too_many.status_code == 400
    assert too_many.json() == {"limit": ["Ensure this value is less than or equal to 2."]}
    beyond = token_client.get(path, {"offset": MAX_ID})
    assert beyond.status_code == 200, beyond.content
    assert beyond.json()["results"] == []


@pytest.mark.parametrize("path", query_paths())
def test_malformed_query_values_are_a_400_naming_the_parameter(path, token_client, three_of_everything):
    parameters = [p for p in _schema()["paths"][path]["get"]["parameters"] if p["in"] == "query"]
    assert parameters
    wrong = []
    for parameter in parameters:
        name = parameter["name"]
        for value in BAD_VALUES[_kind(parameter)] + BAD_PAGING.get(name, []):
            response = token_client.get(path, {name: value})
            body = response.json() if response["Content-Type"] == "application/json" else response.content[:200]
            field_error = (
                response.status_code == 400
                and isinstance(body, dict)
                and set(body) == {name}
                and all(isinstance(m, str) and m for m in body[name])
            )
            if not field_error:
                wrong.append((name, value, response.status_code, body))
        for value in GOOD_VALUES.get(_kind(parameter), []):
            response = token_client.get(path, {name: value})
            if response.status_code != 200:
                wrong.append((name, value, response.status_code, response.content[:200]))
    assert not wrong, "\n".join(map(repr, wrong))


@pytest.mark.parametrize("path", detail_paths())
def test_malformed_ids_in_the_address_are_a_404(path, token_client, clinic):
    for value in ("0", "-1", "abc", "1.5", HUGE, str(MAX_ID + 1), "%00"):
        response = token_client.get(path.replace("{id}", value))
        assert response.status_code == 404, (path, value, response.status_code)
        assert set(response.json()) == {"detail"}, (path, value)

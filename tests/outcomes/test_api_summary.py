"""GET /api/v1/outcomes/summary/: the dashboard's numbers, the same filters, the same scoping."""

import datetime as dt

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from outcomes.analysis.summary import outcomes_summary
from tests.outcomes.analysis_data import make_plan
from tests.outcomes.test_analysis_statistics import scores

URL = "/api/v1/outcomes/summary/"


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def plans(clinic, clinician):
    for kl in (2, 2, 3):
        make_plan(
            clinic,
            clinician,
            kl_grade=kl,
            scores={"baseline": scores(40, 50, 60, 20, 50), "1m": scores(60, 55, 40, 28, 40)},
        )


def test_summary_has_the_dashboard_numbers(api_as, clinician, plans):
    response = api_as(clinician).get(URL)
    assert response.status_code == 200
    data = response.json()
    assert data["plans"] == 3
    month = next(t for t in data["timepoints"] if t["timepoint"] == "1m")
    pain = next(m for m in month["measures"] if m["measure"] == "koos_pain")
    assert pain["change"]["n"] == 3
    assert pain["change"]["mean"] == pytest.approx(20)
    assert pain["mcid"] == {"n": 3, "N": 3, "pct": 100.0, "threshold": 10.0, "direction": "increase"}
    assert month["responders"]["N"] == 3
    assert {t["measure"] for t in data["thresholds"]} >= {"koos_pain", "oks_total", "vas_pain"}
    assert data["adverse_events"]["rows"] == []
    # The page and the API give the same numbers.
    page = outcomes_summary(clinician, {})
    assert data["timepoints"][1]["measures"] == page["timepoints"][1]["measures"]


def test_summary_takes_the_same_filters(api_as, clinician, plans):
    client = api_as(clinician)
    assert client.get(URL, {"kl_grade": "2"}).json()["plans"] == 2
    assert client.get(URL, {"kl_grade": "3", "product": "bmac"}).json()["plans"] == 1
    assert client.get(URL, {"injected_after": "2027-01-01"}).json()["plans"] == 0
    grouped = client.get(URL, {"compare_by": "kl_grade"}).json()
    assert [g["label"] for g in grouped["groups"]] == ["KL 2", "KL 3"]


def test_invalid_filters_are_a_400(api_as, clinician, plans):
    response = api_as(clinician).get(URL, {"kl_grade": "9", "injected_after": "soon"})
    assert response.status_code == 400
    assert set(response.json()) >= {"kl_grade", "injected_after"}


def test_outsider_sees_none_of_it(api_as, outsider, plans, clinic):
    client = api_as(outsider)
    assert client.get(URL).json()["plans"] == 0
    assert client.get(URL, {"clinic": clinic.pk}).status_code == 400  # not one of their clinics


def test_anonymous_is_refused(api):
    assert api.get(URL).status_code in (401, 403)


def test_auditor_reads(api_as, auditor, plans):
    assert api_as(auditor).get(URL).json()["plans"] == 3


def test_schema_documents_it_without_warnings(capsys):
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    operation = schema["paths"]["/api/v1/outcomes/summary/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"clinic", "product", "harvest_site", "processing_method", "kl_grade", "age_band", "staged"} <= names
    assert {"injected_after", "injected_before", "compare_by"} <= names
    assert "OutcomesSummary" in schema["components"]["schemas"]
    captured = capsys.readouterr()
    assert "summary" not in (captured.err + captured.out).lower()  # no warning or error about this view


def test_summary_is_as_of_the_local_day(api_as, clinician, plans):
    from django.utils import timezone

    data = api_as(clinician).get(URL).json()
    assert dt.date.fromisoformat(data["as_of"]) == timezone.localdate()

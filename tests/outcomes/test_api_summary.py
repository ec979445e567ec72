"""GET /api/v1/outcomes/summary/: the dashboard's numbers as a download gives them (small numbers withheld, no
filters), with the same scoping."""

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
    """12 plans alike, 10 at KL 2 and 2 at KL 3 (a small group)."""
    for kl in [2] * 10 + [3] * 2:
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
    assert data["plans"] == 12
    assert data["suppressed"] == []
    month = next(t for t in data["timepoints"] if t["timepoint"] == "1m")
    pain = next(m for m in month["measures"] if m["measure"] == "koos_pain")
    assert pain["change"]["n"] == 12
    assert pain["change"]["mean"] == pytest.approx(20)
    assert pain["mcid"] == {
        "n": 12, "N": 12, "pct": 100.0, "ci_low": pytest.approx(100 * 12 / (12 + 1.959963984540054**2)),
        "ci_high": 100.0, "threshold": 11.3, "direction": "increase", "suppressed": []
    }  # fmt: skip
    assert month["responders"]["N"] == 12
    assert {t["measure"] for t in data["thresholds"]} >= {"koos_pain", "oks_total", "vas_pain"}
    assert {r["events"] for r in data["adverse_events"]["rows"]} == {0}  # given, without events: shown as 0
    # The page and the API give the same numbers where the API shows them.
    page = outcomes_summary(clinician, {})
    assert pain["change"] == {**page["timepoints"][1]["measures"][0]["change"], "suppressed": []}


def test_summary_withholds_the_small_group_and_what_would_give_it_away(api_as, clinician, plans):
    grouped = api_as(clinician).get(URL, {"compare_by": "kl_grade"}).json()
    assert [g["label"] for g in grouped["groups"]] == ["KL 2", "KL 3"]
    for group in grouped["groups"]:  # KL 3 has 2 plans; KL 2 would be the overall minus them
        change = group["timepoints"][1]["measures"][0]["change"]
        assert change == {**dict.fromkeys(("n", "mean", "sd", "ci_low", "ci_high")), "suppressed": change["suppressed"]}
        assert change["suppressed"] == ["ci_high", "ci_low", "mean", "n", "sd"]
        assert group["plans"] is None
        assert group["suppressed"] == ["plans"]
    overall = grouped["timepoints"][1]["measures"][0]["change"]
    assert overall["n"] == 12
    assert overall["suppressed"] == []


def test_summary_takes_no_filters_but_compare_by(api_as, clinician, plans):
    client = api_as(clinician)
    for params in ({"kl_grade": "2"}, {"product": "bmac", "kl_grade": "3"}, {"injected_after": "2027-01-01"}):
        response = client.get(URL, params)
        assert response.status_code == 400
        assert set(response.json()) == set(params)
        assert "take no filters" in response.json()[next(iter(params))][0]
    assert client.get(URL, {"kl_grade": ""}).status_code == 400  # an empty value is a mistake, never "any"
    assert client.get(URL, {"compare_by": "staged"}).json()["compare_by"] == "staged"


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
    assert api_as(auditor).get(URL).json()["plans"] == 12


def test_schema_documents_it_without_warnings(capsys):
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    operation = schema["paths"]["/api/v1/outcomes/summary/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"compare_by"}  # a download takes no filters
    assert "OutcomesSummary" in schema["components"]["schemas"]
    captured = capsys.readouterr()
    assert "summary" not in (captured.err + captured.out).lower()  # no warning or error about this view


def test_summary_is_as_of_the_local_day(api_as, clinician, plans):
    from django.utils import timezone

    data = api_as(clinician).get(URL).json()
    assert dt.date.fromisoformat(data["as_of"]) == timezone.localdate()

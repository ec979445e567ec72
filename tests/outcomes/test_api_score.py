"""POST /api/v1/instruments/<code>/score/ serves outcomes.scoring.score; GET /api/v1/instruments/ lists them."""

import pytest
from django.core.management import call_command

from outcomes.scoring import score


def url(code):
    return f"/api/v1/instruments/{code}/score/"


KOOS_ALL_ONES = {f"P{i}": 1 for i in range(1, 10)} | {f"S{i}": 1 for i in range(1, 8)}
KOOS_ALL_ONES |= {f"A{i}": 1 for i in range(1, 18)} | {f"SP{i}": 1 for i in range(1, 6)}
KOOS_ALL_ONES |= {f"Q{i}": 1 for i in range(1, 5)}


def test_scores_koos_exactly_like_the_scoring_module(api_as, clinician):
    response = api_as(clinician).post(url("KOOS"), {"answers": KOOS_ALL_ONES}, format="json")
    assert response.status_code == 200
    assert response.json() == {"pain": 75.0, "symptoms": 75.0, "adl": 75.0, "sport_rec": 75.0, "qol": 75.0}
    assert response.json() == score("KOOS", KOOS_ALL_ONES)


def test_missing_items_give_null_where_the_rule_says_so(api_as, clinician):
    answers = {"Q1": 2, "Q2": None, "Q3": None, "Q4": None, "P1": 0}
    body = api_as(clinician).post(url("KOOS"), {"answers": answers}, format="json").json()
    assert body["qol"] is None  # 1 of 4 answered: under the 2-item minimum
    assert body["pain"] is None


def test_oks_and_vas(api_as, clinician):
    client = api_as(clinician)
    oks = {f"Q{i}": 4 for i in range(1, 13)}
    assert client.post(url("OKS"), {"answers": oks}, format="json").json() == {"total": 48.0}
    assert client.post(url("VAS"), {"answers": {"pain": 35}}, format="json").json() == {"pain": 35.0}


@pytest.mark.parametrize(
    ("code", "answers", "fragment"),
    [
        ("KOOS", {"P1": 7}, "'P1'"),
        ("KOOS", {"P1": "2"}, "'P1'"),
        ("KOOS", {"P99": 1}, "'P99'"),
        ("VAS", {"pain": 101}, "'pain'"),
        ("OKS", {"Q1": 1.5}, "'Q1'"),
    ],
)
def test_bad_answers_are_400_naming_the_item(api_as, clinician, code, answers, fragment):
    response = api_as(clinician).post(url(code), {"answers": answers}, format="json")
    assert response.status_code == 400
    message = response.json()["answers"][0]
    assert fragment in message


def test_malformed_body_is_400(api_as, clinician):
    client = api_as(clinician)
    assert client.post(url("KOOS"), {}, format="json").status_code == 400
    assert client.post(url("KOOS"), {"answers": [1, 2]}, format="json").status_code == 400
    assert client.post(url("KOOS"), [1], format="json").status_code == 400


def test_unknown_instrument_or_version_is_404(api_as, clinician):
    client = api_as(clinician)
    response = client.post(url("WOMAC"), {"answers": {}}, format="json")
    assert response.status_code == 404
    assert "WOMAC" in response.json()["detail"]
    assert client.post(url("KOOS"), {"answers": {}, "version": "1998"}, format="json").status_code == 404


def test_any_clinic_staff_may_score_but_not_anonymous(api, api_as, auditor, outsider):
    assert api.post(url("VAS"), {"answers": {"pain": 1}}, format="json").status_code in (401, 403)
    assert api_as(auditor).post(url("VAS"), {"answers": {"pain": 1}}, format="json").status_code == 200
    assert api_as(outsider).post(url("VAS"), {"answers": {"pain": 1}}, format="json").status_code == 200


def test_user_without_a_clinic_is_refused(api_as, db):
    from tests.factories import UserFactory

    assert api_as(UserFactory()).post(url("VAS"), {"answers": {"pain": 1}}, format="json").status_code == 403


def test_instruments_are_listed_with_versions(api_as, clinician):
    response = api_as(clinician).get("/api/v1/instruments/")
    assert response.status_code == 200
    by_code = {row["code"]: row for row in response.json()}
    assert {"KOOS", "OKS", "VAS", "SAFETY"} <= set(by_code)
    assert by_code["KOOS"]["version"] == "2012"
    assert by_code["KOOS"]["current"] is True
    assert by_code["KOOS"]["scales"] == ["pain", "symptoms", "adl", "sport_rec", "qol"]
    assert "P1" in by_code["KOOS"]["items"]
    assert by_code["OKS"]["scales"] == ["total"]
    assert by_code["KOOS"]["wording"] == "demo"


def test_schema_has_no_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/follow-ups/" in schema
    assert "/api/v1/instruments/{code}/score/" in schema

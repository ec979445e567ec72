"""/api/v1/reviews/ and /api/v1/reviews/due/: record, list, retrieve and correct reviews, and the review list as
JSON; scoped (other clinics 404), auditors read only, in the schema, no N+1."""

import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consultations.models import FallbackReview
from tests.consultations.review_data import BASELINE, PAST_REVIEW, RESPONDER_6M, at, course

LIST = reverse("consultations-api:review-list")
DUE = reverse("consultations-api:review-due")
NOT_IMPROVED = {"baseline": BASELINE, "6m": {**RESPONDER_6M, "pain": 45, "oks": 22}}


def body(plan, **overrides) -> dict:
    data = {
        "plan": plan.pk,
        "reviewed_on": "2026-09-18",
        "offered": ["physiotherapy", "repeat_injection"],
        "offered_product": "bmac",
        "path_taken": "physiotherapy",
    }
    data.update(overrides)
    return data


def test_due_record_and_correct(api_as, clinic, clinician, lead):
    plan = course(clinic, clinician, scores=NOT_IMPROVED)
    client = api_as(clinician)
    with at(PAST_REVIEW):
        due = client.get(DUE).json()
        assert due["count"] == 1
        row = due["results"][0]
        assert (row["plan"], row["finding"], row["review_on"], row["review_after_months"]) == (
            plan.pk,
            "not_improved",
            "2026-09-02",
            6,
        )
        assert row["trajectory"][0] == {"timepoint": "baseline", "koos_pain": 40.0, "oks_total": 20.0}
        assert (row["open_flags"], row["adverse_events"]) == (0, 0)

        response = client.post(LIST, body(plan, finding="improved"), format="json")
        assert response.status_code == 400
        assert response.json()["finding"] == ["This field is read-only."]  # the rule's, never sent
        response = client.post(LIST, body(plan), format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["finding"] == "not_improved"
        assert response.json()["clinician"] == clinician.pk
        assert client.get(DUE).json()["count"] == 0

        url = reverse("consultations-api:review-detail", args=[response.json()["id"]])
        assert api_as(lead).patch(url, {"path_taken": "declined"}, format="json").status_code == 400  # no reason
        fixed = api_as(lead).patch(url, {"path_taken": "declined", "reason": "Decided later"}, format="json")
        assert fixed.status_code == 200, fixed.json()
    review = FallbackReview.objects.get()
    assert review.path_taken == "declined"
    assert review.history.order_by("-history_id").first().history_change_reason == "Decided later"


def test_rule_errors_are_per_field_and_save_nothing(api_as, clinic, clinician):
    plan = course(clinic, clinician, scores=NOT_IMPROVED)
    with at(PAST_REVIEW):
        response = api_as(clinician).post(LIST, body(plan, path_taken="surgical_referral"), format="json")
    assert response.status_code == 400
    assert "path_taken" in response.json()
    assert not FallbackReview.objects.exists()


def test_scoped_and_auditors_read_only(api_as, clinic, clinician, auditor, outsider):
    plan = course(clinic, clinician, scores=NOT_IMPROVED)
    with at(PAST_REVIEW):
        assert api_as(auditor).get(DUE).json()["count"] == 1
        assert api_as(outsider).get(DUE).json()["count"] == 0
        assert api_as(auditor).post(LIST, body(plan), format="json").status_code == 403
        assert api_as(outsider).post(LIST, body(plan), format="json").status_code == 400  # no such course for them
        created = api_as(clinician).post(LIST, body(plan), format="json").json()
        url = reverse("consultations-api:review-detail", args=[created["id"]])
        assert api_as(auditor).get(url).status_code == 200
        assert api_as(auditor).patch(url, {"notes": "x", "reason": "y"}, format="json").status_code == 403
        assert api_as(outsider).get(url).status_code == 404
        assert api_as(outsider).patch(url, {"notes": "x", "reason": "y"}, format="json").status_code == 404
        assert api_as(clinician).delete(url).status_code == 405
        assert api_as(outsider).get(LIST).json()["count"] == 0


def test_filters(api_as, clinic, clinician):
    course(clinic, clinician, scores=NOT_IMPROVED)
    course(clinic, clinician, scores={"baseline": BASELINE})
    client = api_as(clinician)
    with at(PAST_REVIEW):
        assert client.get(DUE).json()["count"] == 2
        assert [r["finding"] for r in client.get(DUE, {"finding": "no_follow_up"}).json()["results"]] == [
            "no_follow_up"
        ]
        assert client.get(DUE, {"clinic": clinic.pk}).json()["count"] == 2
        assert client.get(DUE, {"clinic": clinic.pk + 1000}).json()["count"] == 0
        assert client.get(DUE, {"finding": "nonsense"}).status_code == 400


def test_the_due_list_costs_the_same_for_2_or_8(api_as, clinic, clinician):
    client = api_as(clinician)
    counts = []
    for more in (2, 6):
        for _ in range(more):
            course(clinic, clinician, scores=NOT_IMPROVED)
        with at(PAST_REVIEW):
            client.get(DUE)  # rebuilds the new courses' outcome summary first (consultations.reviews)
            with CaptureQueriesContext(connection) as queries:
                assert len(client.get(DUE).json()["results"]) in (2, 8)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_in_the_schema(db, tmp_path):
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    paths = schema["paths"]
    assert set(paths["/api/v1/reviews/"]) == {"get", "post"}
    assert set(paths["/api/v1/reviews/{id}/"]) == {"get", "patch"}
    assert set(paths["/api/v1/reviews/due/"]) == {"get"}
    assert "reason" in schema["components"]["schemas"]["PatchedFallbackReviewUpdateRequest"]["properties"]

"""A reminder comparison's results and pages: completion per arm (completed / due, not-yet-due left out), the
difference with Newcombe's interval checked against his published examples and a hand-computed one, small-number
protection of the CSV and the API, who may start, stop and read, one query count that does not grow."""

import datetime as dt

import pytest
from django.urls import reverse

from audit.models import AccessAction, AccessLog
from outcomes import reminders
from outcomes.analysis.comparison import comparison_counts, comparison_results
from outcomes.analysis.stats import newcombe
from outcomes.models import ComparisonArm, FollowUp, FollowUpStatus, ReminderAllocation, ReminderComparison, Timepoint
from registry.choices import Role
from tests.factories import PatientFactory, make_injection, staff

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 1)
ARM_A = {"name": "Text on day 7", "text_reminders": True, "text_reminder_days": [7]}
ARM_B = {"name": "No text", "text_reminders": False, "text_reminder_days": []}


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        # Newcombe RG. Interval estimation for the difference between independent proportions: comparison of
        # eleven methods. Stat Med 1998;17:873-890, Table II, method 10 (score, no continuity correction).
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_matches_the_published_examples(counts, published):
    low, high = newcombe(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_newcombe_needs_two_denominators():
    assert newcombe(1, 0, 1, 2) is None
    low, high = newcombe(0, 10, 10, 10)
    assert -1 <= low < high <= 1


def start(clinic, lead):
    return reminders.comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 help?",
        starts_on=dt.date(2026, 3, 1),
        arm_a=ARM_A,
        arm_b=ARM_B,
    )


def allocate(comparison, arm: str, clinician, n: int) -> list[int]:
    """n patients of the arm, each with one treated knee (its follow-ups scheduled by the real services)."""
    ids = []
    for _ in range(n):
        patient = PatientFactory(clinic=comparison.clinic)
        ReminderAllocation.objects.create(
            comparison=comparison,
            patient=patient,
            clinic=comparison.clinic,
            arm=arm,
            strategy=comparison.strategy_of(arm),
            method="test",
            block=1,
            block_size=2,
        )
        make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2))
        ids.append(patient.pk)
    return ids


def set_month(patient_ids, statuses: list[str], *, overdue: bool = True):
    """Give the patients' 1-month follow-ups these statuses (in order); open ones due before TODAY unless not
    `overdue`."""
    due = TODAY - dt.timedelta(days=5) if overdue else TODAY + dt.timedelta(days=5)
    for patient_id, status in zip(patient_ids, statuses, strict=True):
        FollowUp.objects.filter(patient_id=patient_id, timepoint=Timepoint.ONE_MONTH).update(
            status=status, opens_on=due - dt.timedelta(days=3), due_on=due, closes_on=due + dt.timedelta(days=21)
        )


@pytest.fixture
def example(clock, clinic, clinician, lead):
    """Arm A: 9 of 12 due at 1 month completed; arm B: 4 of 10 (and one more not yet due, left out)."""
    comparison = start(clinic, lead)
    a = allocate(comparison, ComparisonArm.A, clinician, 12)
    b = allocate(comparison, ComparisonArm.B, clinician, 11)
    completed, missed, open_ = FollowUpStatus.COMPLETED, FollowUpStatus.MISSED, FollowUpStatus.OPEN
    set_month(a, [completed] * 9 + [missed] * 2 + [open_])
    set_month(b[:10], [completed] * 4 + [missed] * 5 + [open_])
    set_month(b[10:], [open_], overdue=False)
    FollowUp.objects.filter(timepoint=Timepoint.BASELINE).update(status=FollowUpStatus.CANCELLED)
    return comparison


def test_completion_per_arm_and_the_difference_by_hand(example):
    results = comparison_results(example, channel="page", today=TODAY)
    rows = {row["timepoint"]: row for row in results["timepoints"]}
    assert list(rows) == [Timepoint.BASELINE, Timepoint.ONE_MONTH, Timepoint.SIX_MONTHS]
    month = rows[Timepoint.ONE_MONTH]
    a, b = month["arms"][ComparisonArm.A], month["arms"][ComparisonArm.B]
    assert (a["n"], a["N"], round(a["pct"], 2)) == (9, 12, 75.0)
    assert (b["n"], b["N"], round(b["pct"], 2)) == (4, 10, 40.0)
    # Wilson 95 %: 9/12 -> 46.77 to 91.11 %; 4/10 -> 16.82 to 68.73 % (z = 1.96, by hand).
    assert (round(a["ci_low"], 2), round(a["ci_high"], 2)) == (46.77, 91.11)
    assert (round(b["ci_low"], 2), round(b["ci_high"], 2)) == (16.82, 68.73)
    # Newcombe: d = 0.35; lower = d - sqrt((0.75 - 0.4677)^2 + (0.6873 - 0.40)^2) = -0.0528,
    # upper = d + sqrt((0.9111 - 0.75)^2 + (0.40 - 0.1682)^2) = 0.6323.
    difference = month["difference"]
    assert round(difference["estimate"], 2) == 35.0
    assert (round(difference["ci_low"], 2), round(difference["ci_high"], 2)) == (-5.28, 63.23)
    # Nothing due at baseline (cancelled) or at 6 months (not yet due): no proportion, no difference.
    for tp in (Timepoint.BASELINE, Timepoint.SIX_MONTHS):
        assert rows[tp]["arms"][ComparisonArm.A]["N"] == 0
        assert rows[tp]["difference"]["estimate"] is None
    assert [arm["patients"] for arm in results["arms"]] == [12, 11]
    assert "not treatments" in results["note"]


def test_the_counts_are_one_aggregate_query(example, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = comparison_counts(example, today=TODAY)
    assert counts[f"a_{Timepoint.ONE_MONTH}_due"] == 12
    assert counts[f"b_{Timepoint.ONE_MONTH}_completed"] == 4


def test_downloads_and_the_api_withhold_small_numbers(example):
    protected = comparison_results(example, channel="api", today=TODAY)
    month = next(row for row in protected["timepoints"] if row["timepoint"] == Timepoint.ONE_MONTH)
    a = month["arms"][ComparisonArm.A]
    # 9 completed (and 3 not) describe fewer than 10 patients: withheld with every figure built on them.
    assert a["n"] is None
    assert a["pct"] is None
    assert a["ci_low"] is None
    assert a["withheld_in_downloads"] is True
    assert month["difference"]["estimate"] is None
    # No withheld number can be recovered: where the completed count is withheld, the due count is too or the
    # remainder (not completed) is itself withheld and not derivable.
    b = month["arms"][ComparisonArm.B]
    assert b["n"] is None
    assert b["pct"] is None
    assert [arm["patients"] for arm in protected["arms"]] == [12, 11]  # 10 or more: shown
    page = comparison_results(example, channel="page", today=TODAY)
    assert next(r for r in page["timepoints"] if r["timepoint"] == Timepoint.ONE_MONTH)["arms"]["a"]["n"] == 9


# --- Pages ----------------------------------------------------------------------------------------------------


def new_form(clinic, **overrides):
    return {
        "clinic": clinic.pk,
        "question": "Does a text on day 7 help more patients answer?",
        "starts_on": "2026-03-02",
        "a_name": "Text on day 7",
        "a_text_reminders": "on",
        "a_text_reminder_days": "7",
        "a_show_own_scores": "on",
        "b_name": "No text",
        "b_text_reminder_days": "",
        "b_show_own_scores": "on",
    } | overrides


def test_the_lead_starts_a_comparison_and_reads_it(clock, client, clinic, lead):
    client.force_login(lead)
    assert client.get(reverse("outcomes:reminder-comparison-new")).status_code == 200
    response = client.post(reverse("outcomes:reminder-comparison-new"), new_form(clinic))
    comparison = ReminderComparison.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("outcomes:reminder-comparison", args=[comparison.pk])
    assert comparison.arm_a.text_reminder_days == [7]
    assert comparison.arm_b.text_reminders is False
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Not a clinical comparison" in page.content
    assert b"Stop the comparison" in page.content
    listing = client.get(reverse("outcomes:reminder-comparisons"))
    assert comparison.question.encode() in listing.content
    dashboard = client.get(reverse("outcomes:dashboard"))
    assert reverse("outcomes:reminder-comparisons").encode() in dashboard.content


def test_bad_input_says_what_is_wrong_and_stores_nothing(clock, client, clinic, lead):
    client.force_login(lead)
    response = client.post(reverse("outcomes:reminder-comparison-new"), new_form(clinic, a_text_reminder_days="7, x"))
    assert response.status_code == 400
    assert b"whole numbers of days" in response.content
    response = client.post(reverse("outcomes:reminder-comparison-new"), new_form(clinic, a_text_reminder_days="40"))
    assert response.status_code == 400
    assert b"from 1 to 24" in response.content
    assert not ReminderComparison.objects.exists()
    start(clinic, lead)
    response = client.post(reverse("outcomes:reminder-comparison-new"), new_form(clinic))
    assert response.status_code == 400
    assert b"already runs" in response.content
    assert ReminderComparison.objects.count() == 1


def test_clinicians_and_auditors_cannot_start_or_stop_but_read(clock, client, clinic, clinician, auditor, lead):
    comparison = start(clinic, lead)
    for user in (clinician, auditor):
        client.force_login(user)
        assert client.get(reverse("outcomes:reminder-comparison-new")).status_code == 403
        assert client.post(reverse("outcomes:reminder-comparison-new"), new_form(clinic)).status_code == 403
        stop = client.post(reverse("outcomes:reminder-comparison-stop", args=[comparison.pk]), {"reason": "No"})
        assert stop.status_code == 403
        page = client.get(reverse("outcomes:reminder-comparison", args=[comparison.pk]))
        assert page.status_code == 200
        assert b"Stop the comparison" not in page.content
    assert ReminderComparison.objects.count() == 1
    comparison.refresh_from_db()
    assert comparison.is_running


def test_another_clinic_sees_nothing(clock, client, clinic, other_clinic, lead):
    comparison = start(clinic, lead)
    other_lead = staff(other_clinic, Role.LEAD, username="lead_south")
    client.force_login(other_lead)
    for name in ("outcomes:reminder-comparison", "outcomes:reminder-comparison-csv"):
        assert client.get(reverse(name, args=[comparison.pk])).status_code == 404
    stop = client.post(reverse("outcomes:reminder-comparison-stop", args=[comparison.pk]), {"reason": "Mine now"})
    assert stop.status_code == 404
    assert comparison.question.encode() not in client.get(reverse("outcomes:reminder-comparisons")).content
    comparison.refresh_from_db()
    assert comparison.is_running


def test_the_lead_stops_it_with_a_reason(clock, client, clinic, lead):
    comparison = start(clinic, lead)
    client.force_login(lead)
    url = reverse("outcomes:reminder-comparison-stop", args=[comparison.pk])
    assert client.post(url, {"reason": ""}).status_code == 400
    comparison.refresh_from_db()
    assert comparison.is_running
    assert client.post(url, {"reason": "Enough patients"}).status_code == 302
    comparison.refresh_from_db()
    assert comparison.stop_reason == "Enough patients"
    assert not comparison.is_running
    assert client.get(url).status_code == 405


def test_the_results_page_takes_a_fixed_number_of_queries(example, client, lead, django_assert_max_num_queries):
    client.force_login(lead)
    url = reverse("outcomes:reminder-comparison", args=[example.pk])
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("outcomes:reminder-comparisons")).status_code == 200


def test_the_csv_is_protected_streamed_and_logged(example, client, auditor):
    client.force_login(auditor)
    response = client.get(reverse("outcomes:reminder-comparison-csv", args=[example.pk]))
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")  # the BOM Excel needs
    lines = text.splitlines()
    assert lines[0].startswith("# Reminder comparison: Does a text on day 7 help?")
    header = lines.index("timepoint,arm,strategy,completed,due,pct,ci_low,ci_high,difference_a_minus_b")
    month_a = next(line for line in lines[header:] if line.startswith("1m,a,"))
    assert month_a.split(",")[3] == ""  # 9 completed: withheld
    log = AccessLog.objects.get(route="outcomes:reminder-comparison-csv")
    assert (log.action, log.clinic_id, log.user) == (AccessAction.EXPORT, example.clinic_id, auditor)


# --- API ------------------------------------------------------------------------------------------------------


def test_the_api_lists_the_users_comparisons_and_their_protected_results(example, api_as, auditor, lead, other_clinic):
    other_lead = staff(other_clinic, Role.LEAD, username="lead_south")
    elsewhere = reminders.comparison_start(
        clinic=other_clinic,
        by=other_lead,
        question="Elsewhere",
        starts_on=dt.date(2026, 3, 2),
        arm_a=ARM_A,
        arm_b=ARM_B,
    )
    api = api_as(auditor)
    listing = api.get("/api/v1/reminder-comparisons/")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [example.pk]
    row = listing.json()["results"][0]
    assert row["arm_a"]["text_reminder_days"] == [7]
    assert row["running"] is True
    assert api.get(f"/api/v1/reminder-comparisons/{elsewhere.pk}/").status_code == 404
    assert api.get(f"/api/v1/reminder-comparisons/{elsewhere.pk}/results/").status_code == 404
    results = api.get(f"/api/v1/reminder-comparisons/{example.pk}/results/").json()
    assert results["protected"] is True
    month = next(r for r in results["timepoints"] if r["timepoint"] == Timepoint.ONE_MONTH)
    assert month["arms"]["a"]["n"] is None
    assert api.post("/api/v1/reminder-comparisons/", {}).status_code == 403  # auditors read only
    assert api_as(lead).post("/api/v1/reminder-comparisons/", {}).status_code == 405  # read only for everyone


def test_the_api_refuses_strangers(example, api):
    assert api.get("/api/v1/reminder-comparisons/").status_code in (401, 403)

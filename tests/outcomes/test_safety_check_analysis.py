"""The early safety checks are not outcome timepoints (issue 15): their pain scores never enter changes, MCID,
responders or the patient's trajectory; the dashboard shows their completion in rows of their own, and the patient's
follow-up list shows them without a change from baseline."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from outcomes import selectors
from outcomes.analysis.expressions import FOLLOW_UP_TIMEPOINTS, TIMEPOINTS
from outcomes.analysis.summary import outcomes_summary
from outcomes.analysis.trajectory import patient_trajectory
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.models.followup import OUTCOME_TIMEPOINTS, SAFETY_CHECK_TIMEPOINTS
from tests.outcomes.analysis_data import make_plan

TODAY = dt.datetime(2026, 4, 20, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _today(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def plan(clinic, clinician, patient):
    """Baseline VAS 30; day-3 check answered with VAS 90 (a flare), day-12 missed; 1 month answered with VAS 20."""
    return make_plan(
        clinic,
        clinician,
        patient=patient,
        scores={"baseline": {"vas": 30}, "d3": {"vas": 90}, "1m": {"vas": 20}},
        statuses={"d12": FollowUpStatus.MISSED, "6m": FollowUpStatus.SCHEDULED},
    )


def row(summary, timepoint):
    return next(r for r in summary["completion"] if r["timepoint"] == timepoint)


def test_safety_checks_are_not_outcome_timepoints():
    assert not set(SAFETY_CHECK_TIMEPOINTS) & set(TIMEPOINTS)
    assert not set(SAFETY_CHECK_TIMEPOINTS) & set(FOLLOW_UP_TIMEPOINTS)
    assert set(OUTCOME_TIMEPOINTS) | set(SAFETY_CHECK_TIMEPOINTS) == set(Timepoint.values)


def test_the_dashboard_counts_their_completion_in_rows_of_their_own(plan, clinician):
    summary = outcomes_summary(clinician, {})
    assert [r["timepoint"] for r in summary["completion"]][-2:] == ["d3", "d12"]
    day_3, day_12 = row(summary, "d3"), row(summary, "d12")
    assert (day_3["label"], day_3["plans"], day_3["completed"], day_3["due"]) == ("Day 2-3 safety check", 1, 1, 1)
    assert (day_12["plans"], day_12["completed"], day_12["missed"]) == (1, 0, 1)
    assert day_12["completion"]["pct"] == 0


def test_their_pain_scores_never_enter_the_outcome_figures(plan, clinician):
    summary = outcomes_summary(clinician, {})
    assert {t["timepoint"] for t in summary["timepoints"]} == set(TIMEPOINTS)
    one_month = next(t for t in summary["timepoints"] if t["timepoint"] == "1m")
    vas = next(m for m in one_month["measures"] if m["measure"] == "vas_pain")
    assert vas["change"]["n"] == 1
    assert vas["change"]["mean"] == pytest.approx(-10)  # 20 - 30: the day-3 flare (90) is not a timepoint


def test_the_trajectory_leaves_them_out(plan, patient):
    (knee,) = patient_trajectory(patient)["knees"]
    assert [p["timepoint"] for p in knee["points"]] == ["Baseline", "1 month"]


def test_no_change_from_baseline_mcid_or_responder_for_a_safety_check(plan):
    follow_ups = list(FollowUp.objects.filter(plan=plan).select_related("submission"))
    derived = selectors.derived_for(follow_ups)
    by_timepoint = {fu.timepoint: fu.pk for fu in follow_ups}
    assert by_timepoint["1m"] in derived
    assert by_timepoint["d3"] not in derived


def test_the_patients_follow_up_list_shows_the_checks(plan, patient, client, clinician):
    client.force_login(clinician)
    html = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).content.decode()
    assert "Day 2-3 safety check" in html
    assert "Day 10-14 safety check" in html
    assert "Safety check: not an outcome, not compared" in html

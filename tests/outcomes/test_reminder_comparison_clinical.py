"""Nothing clinical changes between the arms of a reminder comparison: two patients allocated to different arms,
treated alike, get the same follow-up windows, the same scores for the same answers and the same safety flags.
Only the reminders (and the after-submission score view) differ."""

import datetime as dt
from pathlib import Path

import pytest

from outcomes import reminders
from outcomes.models import ComparisonArm, FollowUp
from registry.services import patient_enrol
from safety.models import Flag
from safety.services import flags_evaluate

pytestmark = pytest.mark.django_db

SCORES = ("scores", "koos_pain", "koos_symptoms", "koos_adl", "koos_sport_rec", "koos_qol", "oks_total", "vas_pain")


@pytest.fixture
def one_in_each_arm(clock, clinic, clinician, lead):
    reminders.comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 and seeing their scores help?",
        starts_on=dt.date(2026, 3, 1),
        arm_a={"name": "Text and scores", "text_reminders": True, "text_reminder_days": [7], "show_own_scores": True},
        arm_b={"name": "Neither", "text_reminders": False, "text_reminder_days": [], "show_own_scores": False},
    )
    patients = [
        patient_enrol(
            clinic=clinic,
            by=clinician,
            data={
                "full_name": f"Twin {i}",
                "email": f"twin{i}@example.org",
                "year_of_birth": 1960,
                "sex": "female",
                "consent_on": dt.date(2026, 2, 1),
                "consent_version": "v1.0",
            },
        )
        for i in range(4)  # a block holds at most 6: the first four hold both arms
    ]
    by_arm = {p.reminder_allocation.arm: p for p in patients}
    return by_arm[ComparisonArm.A], by_arm[ComparisonArm.B]


def test_an_arm_changes_no_window_no_score_and_no_flag(one_in_each_arm, journey):
    a, b = one_in_each_arm
    assert reminders.strategy_for(a).text_reminder_days == (7,)
    assert reminders.strategy_for(b).text_reminder_days == ()
    assert reminders.show_own_scores(a) != reminders.show_own_scores(b)

    journeys = [journey(patient=p) for p in (a, b)]
    windows = [
        list(
            FollowUp.objects.filter(patient=p)
            .order_by("timepoint")
            .values_list("timepoint", "opens_on", "due_on", "closes_on", "status")
        )
        for p in (a, b)
    ]
    assert windows[0] == windows[1]
    assert len(windows[0]) >= 4  # baseline, the safety checks and the later timepoints

    baselines = [j.baseline() for j in journeys]
    months = [j.one_month(**{"SAFETY.fever": "yes", "VAS.pain": "80"}) for j in journeys]
    for first, second in (baselines, months):
        assert [getattr(first, s) for s in SCORES] == [getattr(second, s) for s in SCORES]
        assert first.koos_pain is not None

    raised = [sorted(f.rule for f in flags_evaluate(m.pk)) for m in months]
    assert raised[0] == raised[1]
    assert raised[0]  # the fever raised a flag in both arms
    assert Flag.objects.filter(patient=a).count() == Flag.objects.filter(patient=b).count()


def test_scoring_windows_and_flag_rules_never_read_a_strategy():
    """A guard on the code itself: the modules that decide windows, scores and flags do not import the reminder
    strategies, so no future change can make an arm clinical by accident without this test noticing."""
    root = Path(__file__).resolve().parents[2]
    for module in ("outcomes/scoring.py", "outcomes/schedule.py", "safety/rules.py", "outcomes/questionnaire.py"):
        source = (root / module).read_text()
        assert "reminders" not in source, module
        assert "ReminderStrategy" not in source, module
        assert "ReminderAllocation" not in source, module

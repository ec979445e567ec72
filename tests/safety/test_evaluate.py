"""flags_evaluate over real submissions (registry.services.injection_record -> follow-ups;
outcomes.services.questionnaire_submit -> answers and scores)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from outcomes.models import Submission, Timepoint
from outcomes.services import submission_amend
from safety import services, signals
from safety.choices import FlagRule, FlagStatus
from safety.models import MAX_EVALUATION_ATTEMPTS, Evaluation, Flag
from safety.rules import RuleConfigError
from safety.selectors import submissions_pending_evaluation
from safety.services import flags as flag_rules_service  # flags_evaluate looks flag_raise up there
from safety.services import flags_evaluate
from tests.factories import questionnaire_data
from tests.support.journeys import ONE_MONTH_AT

pytestmark = pytest.mark.django_db

FIVE_PAIN_ITEMS = {f"KOOS.P{i}": None for i in range(6, 10)}  # P1-P5 answered: KOOS Pain = 100 - 5 x sum


def rules_of(flags):
    return {f.rule: f.urgent for f in flags}


@pytest.fixture
def raised(monkeypatch):
    """Flags announced through safety.signals.flag_raised."""
    received = []

    def receiver(sender, flag, **kwargs):
        received.append(flag)

    signals.flag_raised.connect(receiver, dispatch_uid="test-flag-raised")
    yield received
    signals.flag_raised.disconnect(dispatch_uid="test-flag-raised")


# --- score rules against the plan's baseline ----------------------------------------------------------------


@pytest.mark.parametrize(("vas", "flagged"), [("50", True), ("49", False)])
def test_vas_pain_20_mm_worse_than_baseline(journey, vas, flagged):
    j = journey()
    j.baseline(**{"VAS.pain": "30"})
    flags = flags_evaluate(j.one_month(**{"VAS.pain": vas}).pk)
    assert rules_of(flags) == ({FlagRule.VAS_WORSE: False} if flagged else {})


@pytest.mark.parametrize(("pain_items", "flagged"), [("4", True), ("3", False)])
def test_koos_pain_10_points_worse_than_baseline(journey, pain_items, flagged):
    j = journey()
    baseline = j.baseline(**FIVE_PAIN_ITEMS)  # five items of 2: 50
    # One item worse by 2 -> 40 (-10, flagged); by 1 -> 45 (-5, not flagged).
    submission = j.one_month(**FIVE_PAIN_ITEMS, **{"KOOS.P1": pain_items})
    assert (baseline.koos_pain, submission.koos_pain) == (50.0, 40.0 if flagged else 45.0)
    flags = flags_evaluate(submission.pk)
    assert rules_of(flags) == ({FlagRule.KOOS_PAIN_WORSE: False} if flagged else {})
    if flagged:
        assert flags[0].values["change"] == -10.0
        assert flags[0].values["baseline_submission"] == baseline.pk


@pytest.mark.parametrize(("worse_items", "flagged"), [(5, True), (4, False)])
def test_oks_5_points_worse_than_baseline(journey, worse_items, flagged):
    j = journey()
    j.baseline()  # every item 2: 24
    submission = j.one_month(**{f"OKS.Q{i}": "1" for i in range(1, worse_items + 1)})
    assert submission.oks_total == 24 - worse_items
    assert rules_of(flags_evaluate(submission.pk)) == ({FlagRule.OKS_WORSE: False} if flagged else {})


def test_without_a_baseline_no_score_flags(journey):
    j = journey()  # baseline never answered
    submission = j.one_month(
        **{"VAS.pain": "100", "SAFETY.hospital_admission": "yes"}, **{f"OKS.Q{i}": "0" for i in range(1, 13)}
    )
    assert rules_of(flags_evaluate(submission.pk)) == {FlagRule.SAFETY_HOSPITAL_ADMISSION: True}


def test_baseline_of_another_plan_is_not_used(journey):
    first = journey()
    first.baseline(**{"VAS.pain": "0"})
    second = journey(patient=first.patient, knee="right")
    submission = second.one_month(**{"VAS.pain": "60"})
    assert flags_evaluate(submission.pk) == []


def test_baseline_scores_are_the_current_ones_after_an_amendment(journey, clinician):
    j = journey()
    baseline = j.baseline(**{"VAS.pain": "30"})
    submission_amend(
        submission=baseline,
        by=clinician,
        data=questionnaire_data(baseline.follow_up, **{"VAS.pain": "20"}),
        reason="Patient read the slider the wrong way; corrected on the phone",
    )
    flags = flags_evaluate(j.one_month(**{"VAS.pain": "40"}).pk)
    assert rules_of(flags) == {FlagRule.VAS_WORSE: False}
    assert flags[0].values["baseline"] == 20.0


def test_evaluating_a_baseline_raises_nothing(journey):
    j = journey()
    submission = j.baseline(**{"VAS.pain": "100"})
    assert flags_evaluate(submission.pk) == []
    assert Evaluation.objects.get(submission=submission).evaluated_at is not None


# --- safety answers ---------------------------------------------------------------------------------------------


def test_urgent_and_non_urgent_flags_from_safety_answers(journey, raised, django_capture_on_commit_callbacks):
    j = journey()
    j.baseline()
    submission = j.one_month(
        **{
            "SAFETY.redness_heat": "yes",
            "SAFETY.hospital_admission": "yes",
            "SAFETY.swelling": "yes",
            "SAFETY.care_ed": "yes",
            "SAFETY.harvest_site_problem": "yes",
            "SAFETY.other": "My hip is bruised where the needle went in",
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        flags = flags_evaluate(submission.pk)
    assert rules_of(flags) == {
        FlagRule.SAFETY_INFECTION_SIGNS: True,
        FlagRule.SAFETY_HOSPITAL_ADMISSION: True,
        FlagRule.SAFETY_SWELLING: False,
        FlagRule.SAFETY_MEDICAL_CARE: False,
        FlagRule.SAFETY_HARVEST_SITE: False,
        FlagRule.SAFETY_OTHER_REPORT: False,
    }
    flag = Flag.objects.get(rule=FlagRule.SAFETY_OTHER_REPORT)
    assert (flag.clinic, flag.patient, flag.follow_up, flag.submission) == (
        j.patient.clinic,
        j.patient,
        submission.follow_up,
        submission,
    )
    assert flag.status == FlagStatus.OPEN
    assert flag.values["answers"] == {"other": "My hip is bruised where the needle went in"}
    assert sorted(f.pk for f in raised) == sorted(f.pk for f in flags)


def test_harvest_site_question_is_only_asked_for_bmac(journey):
    j = journey(product="saline")
    j.baseline()
    submission = j.one_month()
    assert "harvest_site_problem" not in submission.answers["SAFETY"]
    assert flags_evaluate(submission.pk) == []


# --- idempotency and the signal -------------------------------------------------------------------------------


def test_evaluating_twice_raises_one_flag_per_rule_and_announces_each_once(
    journey, raised, django_capture_on_commit_callbacks
):
    j = journey()
    j.baseline()
    submission = j.one_month(**{"SAFETY.fever": "yes", "VAS.pain": "80"})
    with django_capture_on_commit_callbacks(execute=True):
        first = flags_evaluate(submission.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = flags_evaluate(submission.pk)
    assert [f.pk for f in first] == [f.pk for f in second]
    assert Flag.objects.filter(follow_up=submission.follow_up).count() == 2
    assert len(raised) == 2
    assert callbacks == []  # nothing new, nothing announced
    assert Evaluation.objects.get(submission=submission).attempts == 2


def test_flag_raise_is_idempotent_per_follow_up_and_rule(journey):
    j = journey()
    submission = j.one_month()
    flag, created = services.flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    again, created_again = services.flag_raise(
        submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=True, values={"x": 1}
    )
    assert (created, created_again) == (True, False)
    assert again.pk == flag.pk
    assert again.urgent is False


def test_a_flag_that_lost_the_race_is_not_announced(journey, monkeypatch, raised, django_capture_on_commit_callbacks):
    """A concurrent evaluation inserted the flag between our check and our insert: the unique constraint decides."""
    j = journey()
    submission = j.one_month(**{"SAFETY.swelling": "yes"})
    other, _ = services.flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    real_filter = Flag.objects.filter

    class NotYetThere:
        def first(self):
            return None

    monkeypatch.setattr(Flag.objects, "filter", lambda **kw: NotYetThere() if "rule" in kw else real_filter(**kw))
    with django_capture_on_commit_callbacks(execute=True):
        flag, created = services.flag_raise(
            submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={}
        )
    assert (flag.pk, created) == (other.pk, False)
    assert raised == []


# --- failures ---------------------------------------------------------------------------------------------------


def _snapshot(submission_id):
    submission = Submission.objects.get(pk=submission_id)
    return (
        submission.answers,
        submission.scores,
        submission.vas_pain,
        submission.follow_up.status,
        submission.history.count(),
    )


def test_failed_evaluation_is_recorded_re_raised_and_retried_without_losing_anything(
    journey, monkeypatch, raised, django_capture_on_commit_callbacks
):
    j = journey()
    flags_evaluate(j.baseline().pk)
    submission = j.one_month(**{"SAFETY.hospital_admission": "yes", "VAS.pain": "90"})
    before = _snapshot(submission.pk)
    real_raise = flag_rules_service.flag_raise
    calls = []

    def fails_on_second_flag(**kwargs):
        calls.append(kwargs["rule"])
        if len(calls) == 2:
            raise RuntimeError("database hiccup")
        return real_raise(**kwargs)

    monkeypatch.setattr(flag_rules_service, "flag_raise", fails_on_second_flag)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError, match="hiccup"):
        flags_evaluate(submission.pk)

    assert Flag.objects.count() == 0  # the first flag rolled back with the run
    assert raised == []  # and was never announced
    evaluation = Evaluation.objects.get(submission=submission)
    assert evaluation.failed
    assert evaluation.will_retry
    assert (evaluation.attempts, evaluation.error) == (1, "RuntimeError: database hiccup")
    assert _snapshot(submission.pk) == before
    assert submissions_pending_evaluation(10) == [submission.pk]

    monkeypatch.setattr(flag_rules_service, "flag_raise", real_raise)
    with django_capture_on_commit_callbacks(execute=True):
        flags = flags_evaluate(submission.pk)
    assert rules_of(flags) == {FlagRule.SAFETY_HOSPITAL_ADMISSION: True, FlagRule.VAS_WORSE: False}
    evaluation.refresh_from_db()
    assert (evaluation.failed, evaluation.error, evaluation.attempts) == (False, "", 2)
    assert submissions_pending_evaluation(10) == []
    assert len(raised) == 2


@override_settings(SAFETY_FLAG_RULES={"vas_worse": {"threshold": "twenty"}})
def test_misconfigured_rules_fail_visibly(journey):
    submission = journey().one_month()
    with pytest.raises(RuleConfigError):
        flags_evaluate(submission.pk)
    assert "positive number" in Evaluation.objects.get(submission=submission).error


def test_an_unknown_submission_raises_without_recording(db):
    with pytest.raises(Submission.DoesNotExist):
        flags_evaluate(999_999)
    assert not Evaluation.objects.exists()


# --- the sweep's selector -----------------------------------------------------------------------------------------


def test_pending_evaluation_lists_unevaluated_and_retryable_failures_oldest_first(journey):
    never, ok, failing, given_up = (journey().one_month() for _ in range(4))
    flags_evaluate(ok.pk)
    Evaluation.objects.create(submission=failing, attempts=3, error="boom")
    Evaluation.objects.create(submission=given_up, attempts=MAX_EVALUATION_ATTEMPTS, error="boom")
    assert submissions_pending_evaluation(10) == [never.pk, failing.pk]
    assert submissions_pending_evaluation(1) == [never.pk]
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        assert submissions_pending_evaluation(10, submitted_before=ONE_MONTH_AT) == []


def test_pending_evaluation_is_one_anti_join_query(journey, django_assert_num_queries):
    for _ in range(3):
        journey().one_month()
    with django_assert_num_queries(1) as captured:
        assert len(submissions_pending_evaluation(10)) == 3
    assert "NOT EXISTS" in captured.captured_queries[0]["sql"].upper()


def test_improperly_configured_is_not_swallowed():
    # A guard for the check module: ImproperlyConfigured is not a ValueError, so it is not mistaken for bad rules.
    assert not issubclass(ImproperlyConfigured, ValueError)


# --- red flags from combinations (issue 15) ----------------------------------------------------------------------


def _six_months(j, **overrides):
    follow_up = j.follow_up(Timepoint.SIX_MONTHS)
    when = dt.datetime.combine(follow_up.opens_on, dt.time(10, 0), tzinfo=ONE_MONTH_AT.tzinfo)
    return j.submit(Timepoint.SIX_MONTHS, when, **overrides)


@pytest.mark.parametrize(("vas", "flagged"), [("50", True), ("49", False)])
def test_swelling_with_pain_20_mm_worse_than_the_knees_previous_questionnaire_is_urgent(journey, vas, flagged):
    j = journey()
    j.baseline(**{"VAS.pain": "70"})
    previous = j.one_month(**{"VAS.pain": "30"})
    submission = _six_months(j, **{"VAS.pain": vas, "SAFETY.swelling": "yes"})  # no fever, no redness
    flags = flags_evaluate(submission.pk)
    expected = {FlagRule.SAFETY_SWELLING: False}
    if flagged:
        expected[FlagRule.SWELLING_WITH_PAIN_WORSE] = True  # better than baseline (70), worse than last time (30)
    assert rules_of(flags) == expected
    if flagged:
        (flag,) = [f for f in flags if f.rule == FlagRule.SWELLING_WITH_PAIN_WORSE]
        assert flag.values["previous_submission"] == previous.pk
        assert flag.summary == (
            "Yes: more swollen; VAS pain 30 → 50 since the previous questionnaire (+20; flagged from +20)"
        )


def test_unable_to_bear_weight_raises_an_urgent_flag_without_fever(journey):
    j = journey()
    j.baseline()
    flags = flags_evaluate(j.one_month(**{"SAFETY.unable_to_bear_weight": "yes"}).pk)
    assert rules_of(flags) == {FlagRule.SAFETY_UNABLE_TO_BEAR_WEIGHT: True}
    assert flags[0].summary == "Yes: unable to bear weight"

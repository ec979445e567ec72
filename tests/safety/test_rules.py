"""The flag rules as pure functions: thresholds (inclusive, from outcomes.thresholds), urgency and configuration."""

import pytest
from django.core import checks
from django.test import override_settings

from outcomes.thresholds import DEFAULTS
from safety.choices import FlagRule
from safety.rules import RuleConfigError, configured_rules, evaluate

NO = {code: {"value": False} for code in ("swelling", "redness_heat", "fever", "care_gp", "care_ed")}


def safety(**answers):
    block = dict(NO)
    block.update({code: {"value": value} for code, value in answers.items()})
    return {"SAFETY": block}


def fired(findings):
    return {f.rule: f.urgent for f in findings}


def scores(measure, before, after):
    return {measure: after}, {measure: before}


@pytest.mark.parametrize(
    ("measure", "rule", "before", "at_threshold", "just_below"),
    [
        ("vas.pain", FlagRule.VAS_WORSE, 30, 50, 49),
        ("vas.pain", FlagRule.VAS_WORSE, 30.0, 50.0, 49.9),
        ("koos.pain", FlagRule.KOOS_PAIN_WORSE, 50.0, 40.0, 40.1),
        ("oks.total", FlagRule.OKS_WORSE, 30, 25, 26),
    ],
)
def test_score_rule_fires_at_its_threshold_and_not_just_below(measure, rule, before, at_threshold, just_below):
    now, baseline = scores(measure, before, at_threshold)
    assert fired(evaluate({}, now, baseline, configured_rules({}))) == {rule: False}
    now, baseline = scores(measure, before, just_below)
    assert evaluate({}, now, baseline, configured_rules({})) == []


def test_koos_pain_threshold_survives_binary_fractions():
    # 100 - 25 x 7/9 and 100 - 25 x 7/9 - 10 differ by 10 on paper, by 9.999999999999993 in floating point.
    before = 100 - 25 * 7 / 9
    after = before - 10
    assert fired(evaluate({}, {"koos.pain": after}, {"koos.pain": before})) == {FlagRule.KOOS_PAIN_WORSE: False}


def test_improvement_never_fires():
    now = {"vas.pain": 10, "koos.pain": 90, "oks.total": 45}
    baseline = {"vas.pain": 70, "koos.pain": 30, "oks.total": 15}
    assert evaluate({}, now, baseline) == []


def test_no_baseline_means_no_score_flags_but_safety_answers_still_count():
    now = {"vas.pain": 100, "koos.pain": 0, "oks.total": 0}
    assert evaluate({}, now, None) == []
    assert fired(evaluate(safety(fever=True), now, None)) == {FlagRule.SAFETY_INFECTION_SIGNS: True}


def test_a_score_missing_at_either_timepoint_gives_no_flag():
    assert evaluate({}, {"oks.total": 10}, {"oks.total": None}) == []
    assert evaluate({}, {"oks.total": None}, {"oks.total": 40}) == []


def test_score_values_record_both_scores_the_threshold_and_its_source():
    (finding,) = evaluate({}, {"vas.pain": 55.0}, {"vas.pain": 30.0})
    assert finding.values == {
        "measure": "vas.pain",
        "baseline": 30.0,
        "follow_up": 55.0,
        "change": 25.0,
        "threshold": 20.0,
        "direction": "increase",
        "source": DEFAULTS["deterioration.vas.pain"].source,
    }
    assert "Tubach" in finding.values["source"]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"redness_heat": True}, {FlagRule.SAFETY_INFECTION_SIGNS: True}),
        ({"fever": True}, {FlagRule.SAFETY_INFECTION_SIGNS: True}),
        ({"hospital_admission": True}, {FlagRule.SAFETY_HOSPITAL_ADMISSION: True}),
        ({"swelling": True}, {FlagRule.SAFETY_SWELLING: False}),
        ({"care_gp": True}, {FlagRule.SAFETY_MEDICAL_CARE: False}),
        ({"care_ed": True}, {FlagRule.SAFETY_MEDICAL_CARE: False}),
        ({"harvest_site_problem": True}, {FlagRule.SAFETY_HARVEST_SITE: False}),
        ({"other": "Bruise on my hip"}, {FlagRule.SAFETY_OTHER_REPORT: False}),
        ({"other": "   "}, {}),
        ({"hospital_admission": False, "harvest_site_problem": False}, {}),
    ],
)
def test_safety_answers_fire_their_rule_with_its_urgency(answers, expected):
    assert fired(evaluate(safety(**answers), {}, None)) == expected


def test_the_clinic_is_alerted_at_once_for_exactly_the_answers_that_send_the_patient_to_care_today():
    """One definition (the safety check's "urgent" items) for the patient's advice and the clinic's urgent flag."""
    from outcomes.instruments import get_instrument

    for item in get_instrument("SAFETY").items:
        if item.type != "yesno":
            continue
        findings = evaluate(safety(**{item.code: True}), {}, None, configured_rules({}))
        assert [f.urgent for f in findings] == [item.urgent], item.code


def test_safety_values_show_the_rules_answers_and_which_fired():
    (finding,) = evaluate(safety(fever=True), {}, None)
    assert finding.values == {
        "instrument": "SAFETY",
        "answers": {"redness_heat": False, "fever": True},
        "fired": ["fever"],
    }


def test_overrides_disable_rules_change_urgency_and_thresholds_with_their_source():
    rules = configured_rules(
        {
            "safety_swelling": {"urgent": True},
            "safety_other_report": {"enabled": False},
            "vas_worse": {"threshold": 25, "source": "Clinic governance minute 12"},
        }
    )
    findings = evaluate(safety(swelling=True, other="note"), {"vas.pain": 54}, {"vas.pain": 30}, rules)
    assert fired(findings) == {FlagRule.SAFETY_SWELLING: True}
    (vas,) = evaluate({}, {"vas.pain": 55}, {"vas.pain": 30}, rules)
    assert (vas.values["threshold"], vas.values["source"]) == (25.0, "Clinic governance minute 12")


@override_settings(OUTCOME_THRESHOLDS={"deterioration.oks.total": 8})
def test_score_thresholds_come_from_outcomes_thresholds():
    assert evaluate({}, {"oks.total": 33}, {"oks.total": 40}) == []
    assert fired(evaluate({}, {"oks.total": 32}, {"oks.total": 40})) == {FlagRule.OKS_WORSE: False}


@override_settings(SAFETY_FLAG_RULES={"oks_worse": {"enabled": False}})
def test_setting_is_read_by_default():
    assert evaluate({}, {"oks.total": 10}, {"oks.total": 40}) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([], "must be a dict"),
        ({"fever": {}}, "unknown rule"),
        ({"vas_worse": 25}, "expected a dict"),
        ({"vas_worse": {"treshold": 25}}, "unknown keys"),
        ({"vas_worse": {"enabled": "no"}}, "must be true or false"),
        ({"vas_worse": {"threshold": 0}}, "positive number"),
        ({"vas_worse": {"threshold": True}}, "positive number"),
        ({"vas_worse": {"threshold": 25, "source": ""}}, "non-empty"),
        ({"vas_worse": {"source": "minute 12"}}, "needs the threshold"),
        ({"safety_swelling": {"threshold": 1}}, "only score rules"),
    ],
)
def test_malformed_configuration_is_refused(overrides, message):
    with pytest.raises(RuleConfigError, match=message):
        configured_rules(overrides)


def test_system_check_reports_a_malformed_setting():
    with override_settings(SAFETY_FLAG_RULES={"vas_worse": {"threshold": -1}}):
        errors = [m for m in checks.run_checks() if m.id == "safety.E001"]
    assert len(errors) == 1
    assert "vas_worse" in errors[0].msg
    assert not [m for m in checks.run_checks() if m.id == "safety.E001"]


# --- red flags from combinations (issue 15): urgent without fever ------------------------------------------------


@pytest.mark.parametrize(
    ("swelling", "before", "after", "expected"),
    [
        (True, 30, 50, {FlagRule.SAFETY_SWELLING: False, FlagRule.SWELLING_WITH_PAIN_WORSE: True}),  # +20: fires
        (True, 30, 49, {FlagRule.SAFETY_SWELLING: False}),  # +19: swelling alone, not urgent
        (True, 30.0, 49.9, {FlagRule.SAFETY_SWELLING: False}),
        (False, 30, 50, {}),  # pain alone is not this red flag (and the previous score is not the baseline)
        (False, 30, 80, {}),
    ],
)
def test_swelling_with_pain_20_mm_worse_than_the_previous_score_is_urgent_without_fever(
    swelling, before, after, expected
):
    answers = safety(swelling=swelling)  # fever and redness "no"
    findings = evaluate(answers, {"vas.pain": after}, None, configured_rules({}), previous_scores={"vas.pain": before})
    assert fired(findings) == expected


def test_swelling_with_pain_compares_with_the_previous_score_not_the_baseline():
    answers = safety(swelling=True)
    # Baseline 70, previous 30, now 50: better than baseline, 20 mm worse than last time.
    findings = evaluate(answers, {"vas.pain": 50}, {"vas.pain": 70}, configured_rules({}), {"vas.pain": 30})
    assert fired(findings) == {FlagRule.SAFETY_SWELLING: False, FlagRule.SWELLING_WITH_PAIN_WORSE: True}
    # Previous 40 (+10), baseline 30 (+20): the efficacy signal fires, the red flag does not.
    findings = evaluate(answers, {"vas.pain": 50}, {"vas.pain": 30}, configured_rules({}), {"vas.pain": 40})
    assert fired(findings) == {FlagRule.SAFETY_SWELLING: False, FlagRule.VAS_WORSE: False}


def test_swelling_with_pain_needs_both_scores():
    answers = safety(swelling=True)
    assert fired(evaluate(answers, {"vas.pain": 90}, None, configured_rules({}), None)) == {
        FlagRule.SAFETY_SWELLING: False
    }
    assert fired(evaluate(answers, {"vas.pain": None}, None, configured_rules({}), {"vas.pain": 10})) == {
        FlagRule.SAFETY_SWELLING: False
    }


def test_swelling_with_pain_values_name_the_answer_the_previous_score_and_the_source():
    findings = evaluate(safety(swelling=True), {"vas.pain": 62.0}, None, configured_rules({}), {"vas.pain": 40.0})
    (finding,) = [f for f in findings if f.rule == FlagRule.SWELLING_WITH_PAIN_WORSE]
    assert finding.values == {
        "instrument": "SAFETY",
        "answers": {"swelling": True},
        "fired": ["swelling"],
        "measure": "vas.pain",
        "previous": 40.0,
        "follow_up": 62.0,
        "change": 22.0,
        "threshold": 20.0,
        "direction": "increase",
        "source": "Red flag (issue 15): new swelling with VAS pain 20 mm or more worse than the knee's previous score.",
    }


@pytest.mark.parametrize("fever", [False, True])
def test_unable_to_bear_weight_is_urgent_with_or_without_fever(fever):
    findings = evaluate(safety(unable_to_bear_weight=True, fever=fever), {}, None, configured_rules({}))
    expected = {FlagRule.SAFETY_UNABLE_TO_BEAR_WEIGHT: True}
    if fever:
        expected[FlagRule.SAFETY_INFECTION_SIGNS] = True
    assert fired(findings) == expected


def test_the_swelling_with_pain_threshold_and_urgency_can_be_configured():
    rules = configured_rules(
        {"swelling_with_pain_worse": {"threshold": 30, "source": "Local protocol", "urgent": False}}
    )
    answers = safety(swelling=True)
    assert FlagRule.SWELLING_WITH_PAIN_WORSE not in fired(
        evaluate(answers, {"vas.pain": 59}, None, rules, {"vas.pain": 30})
    )
    assert (
        fired(evaluate(answers, {"vas.pain": 60}, None, rules, {"vas.pain": 30}))[FlagRule.SWELLING_WITH_PAIN_WORSE]
        is False
    )

"""The early safety checks feed the same flag rules (issue 15): each red-flag answer raises its flag with its
urgency, combinations are urgent without fever, the deterioration (efficacy) flags stay out of a safety check, and
SAFETY_FLAG_RULES adjusts the new rules like the others."""

import datetime as dt

import pytest
import time_machine

from outcomes.models import FollowUp, Timepoint
from outcomes.services import questionnaire_submit
from safety.choices import FlagRule
from safety.rules import configured_rules, evaluate
from safety.selectors import flag_evidence
from safety.services import flags_evaluate
from tests.support.answers import answers_for
from tests.support.clock import LONDON

EARLY_NO = {
    code: {"value": False}
    for code in (
        "redness_heat",
        "swelling",
        "unable_to_bear_weight",
        "puncture_site",
        "fever",
        "unwell",
        "calf_pain_swelling",
        "breathless_chest_pain",
        "face_swelling",
        "rash_itching",
        "numbness",
        "hospital_admission",
    )
}


def early(**answers):
    block = dict(EARLY_NO)
    block.update({code: {"value": value} for code, value in answers.items()})
    return {"SAFETY_EARLY": block}


def fired(findings):
    return {f.rule: f.urgent for f in findings}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, {}),
        ({"fever": True}, {FlagRule.SAFETY_INFECTION_SIGNS: True}),
        ({"redness_heat": True}, {FlagRule.SAFETY_INFECTION_SIGNS: True}),
        ({"unable_to_bear_weight": True}, {FlagRule.SAFETY_UNABLE_TO_BEAR_WEIGHT: True}),
        ({"calf_pain_swelling": True}, {FlagRule.SAFETY_CLOT_SIGNS: True}),
        ({"breathless_chest_pain": True}, {FlagRule.SAFETY_CLOT_SIGNS: True}),
        ({"face_swelling": True}, {FlagRule.SAFETY_ALLERGIC_REACTION: True}),
        ({"puncture_site": True}, {FlagRule.SAFETY_PUNCTURE_SITE: True}),
        ({"hospital_admission": True}, {FlagRule.SAFETY_HOSPITAL_ADMISSION: True}),
        ({"swelling": True}, {FlagRule.SAFETY_SWELLING: False}),
        ({"unwell": True}, {FlagRule.SAFETY_FEELING_UNWELL: False}),
        ({"rash_itching": True}, {FlagRule.SAFETY_RASH: False}),
        ({"numbness": True}, {FlagRule.SAFETY_NUMBNESS: False}),
        ({"harvest_site_problem": True}, {FlagRule.SAFETY_HARVEST_SITE: False}),
        ({"blood_glucose": 1}, {FlagRule.SAFETY_BLOOD_GLUCOSE: False}),
        ({"blood_glucose": 0}, {}),
        ({"blood_glucose": 2}, {}),  # "I don't have diabetes"
        ({"blood_glucose": True}, {}),  # a yes is not the "higher than usual" option (True == 1 in Python)
        ({"other": "Knee clicks"}, {FlagRule.SAFETY_OTHER_REPORT: False}),
    ],
)
def test_each_early_answer_fires_its_rule_with_its_urgency(answers, expected):
    assert fired(evaluate(early(**answers), {}, None, configured_rules({}))) == expected


def test_findings_name_the_early_instrument():
    (finding,) = evaluate(early(calf_pain_swelling=True), {}, None, configured_rules({}))
    assert finding.values == {
        "instrument": "SAFETY_EARLY",
        "answers": {"calf_pain_swelling": True, "breathless_chest_pain": False},
        "fired": ["calf_pain_swelling"],
    }


@pytest.mark.parametrize(("pain", "combined"), [(60, True), (59, False)])
def test_swelling_with_pain_20_mm_worse_than_before_is_urgent_without_fever(pain, combined):
    findings = fired(evaluate(early(swelling=True), {"vas.pain": pain}, None, previous_scores={"vas.pain": 40}))
    assert findings.get(FlagRule.SWELLING_WITH_PAIN_WORSE) is (True if combined else None)
    assert FlagRule.SAFETY_INFECTION_SIGNS not in findings


def test_new_rules_take_the_same_overrides():
    rules = configured_rules(
        {"safety_clot_signs": {"urgent": False}, "safety_rash": {"enabled": False}, "safety_numbness": {"urgent": True}}
    )
    answers = early(calf_pain_swelling=True, rash_itching=True, numbness=True)
    assert fired(evaluate(answers, {}, None, rules)) == {
        FlagRule.SAFETY_CLOT_SIGNS: False,
        FlagRule.SAFETY_NUMBNESS: True,
    }


# --- over real submissions ---------------------------------------------------------------------------------------


def submit(follow_up: FollowUp, **overrides):
    with time_machine.travel(dt.datetime.combine(follow_up.opens_on, dt.time(11), tzinfo=LONDON), tick=False):
        return questionnaire_submit(follow_up=follow_up, data=answers_for(follow_up, **overrides))


@pytest.mark.django_db
def test_a_day_3_check_compares_pain_with_the_baseline_answered_before_it(journey):
    j = journey()
    j.baseline(**{"VAS.pain": "30"})
    check = submit(j.follow_up(Timepoint.DAY_3), **{"VAS.pain": "55", "SAFETY_EARLY.swelling": "yes"})
    flags = {f.rule: f.urgent for f in flags_evaluate(check.pk)}
    # The red-flag combination is urgent; the deterioration flag (an efficacy signal, VAS +25 vs baseline) is not
    # raised at a safety check.
    assert flags == {FlagRule.SAFETY_SWELLING: False, FlagRule.SWELLING_WITH_PAIN_WORSE: True}


@pytest.mark.django_db
def test_the_one_month_check_compares_with_the_day_12_pain(journey):
    j = journey()
    j.baseline(**{"VAS.pain": "30"})
    submit(j.follow_up(Timepoint.DAY_12), **{"VAS.pain": "70"})
    month = j.one_month(**{"VAS.pain": "75", "SAFETY.swelling": "yes"})
    flags = {f.rule for f in flags_evaluate(month.pk)}
    # Worse than baseline (efficacy flag) but only 5 mm worse than the day-12 score: no red-flag combination.
    assert FlagRule.VAS_WORSE in flags
    assert FlagRule.SWELLING_WITH_PAIN_WORSE not in flags


@pytest.mark.django_db
def test_a_clot_answer_at_day_12_raises_an_urgent_flag(journey):
    j = journey()
    check = submit(j.follow_up(Timepoint.DAY_12), **{"SAFETY_EARLY.breathless_chest_pain": "yes"})
    (flag,) = flags_evaluate(check.pk)
    assert (flag.rule, flag.urgent, flag.follow_up.timepoint) == (FlagRule.SAFETY_CLOT_SIGNS, True, Timepoint.DAY_12)


@pytest.mark.django_db
def test_the_flag_page_evidence_lists_the_early_answers_with_the_one_that_fired(journey):
    j = journey()
    check = submit(j.follow_up(Timepoint.DAY_3), **{"SAFETY_EARLY.face_swelling": "yes"})
    (flag,) = flags_evaluate(check.pk)
    rows = {row.text: (row.answer, row.fired) for row in flag_evidence(flag).safety_answers}
    assert rows["Have you had swelling of your face, lips or tongue, or trouble breathing or swallowing?"] == (
        "Yes",
        True,
    )
    assert rows["Have you had a new rash, hives or itching?"] == ("No", False)

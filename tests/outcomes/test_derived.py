"""Change from baseline, meaningful change, deterioration flags and OMERACT-OARSI (reference 4-5)."""

import pytest

from outcomes.derived import (
    change_from_baseline,
    deterioration_flags,
    is_deterioration,
    omeract_inputs,
    omeract_oarsi_from_scores,
    omeract_oarsi_responder,
    reaches_mcid,
)
from outcomes.scoring import measures, score
from outcomes.thresholds import DEFAULTS, get_thresholds, merge_thresholds


@pytest.fixture(autouse=True)
def default_thresholds(settings):
    settings.OUTCOME_THRESHOLDS = {}


# --- change from baseline ------------------------------------------------------------------------------------


def test_change_is_follow_up_minus_baseline_in_own_direction():
    baseline = {"koos.pain": 50.0, "vas.pain": 60.0, "oks.total": None}
    follow_up = {"koos.pain": 75.0, "vas.pain": 20.0, "oks.total": 30.0, "pga.global": 10.0}
    assert change_from_baseline(baseline, follow_up) == {
        "koos.pain": 25.0,  # better: up
        "vas.pain": -40.0,  # better: down
        "oks.total": None,
        "pga.global": None,
    }


# --- MCID ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "baseline", "follow_up", "expected"),
    [
        ("koos.pain", 50.0, 61.3, True),  # +11.3 = the KOOS Pain MIC (PubMed 41367621), inclusive
        ("koos.pain", 50.0, 61.2, False),
        ("koos.pain", 60.0, 40.0, False),  # worse
        ("koos.adl", 30.0, 40.2, True),  # ADL's own MIC, 10.2
        ("koos.adl", 30.0, 40.1, False),
        ("koos.symptoms", 30.0, 42.1, True),  # 12.1
        ("koos.symptoms", 30.0, 42.0, False),
        ("koos.sport_rec", 30.0, 45.5, True),  # 15.5
        ("koos.sport_rec", 30.0, 45.4, False),
        ("koos.qol", 30.0, 43.2, True),  # 13.2
        ("koos.qol", 30.0, 43.1, False),
        ("oks.total", 20.0, 27.0, True),  # individual MCID 7
        ("oks.total", 20.0, 26.0, False),
        ("vas.pain", 70.0, 50.0, True),  # -20 mm: improvement is a decrease
        ("vas.pain", 70.0, 51.0, False),
        ("vas.pain", 50.0, 70.0, False),  # +20 mm is worse, not better
        ("koos.pain", None, 60.0, None),
        ("vas.pain", 60.0, None, None),
    ],
)
def test_reaches_mcid(measure, baseline, follow_up, expected):
    assert reaches_mcid(measure, baseline, follow_up) is expected


def test_oks_between_group_mcid_is_kept_separately():
    assert reaches_mcid("oks.total", 20.0, 25.0) is False
    assert reaches_mcid("oks.total", 20.0, 25.0, level="group") is True


def test_mcid_from_real_scores_despite_float_rounding():
    # 9 pain items summing 20: 100 - 500/9 = 44.44..., not exact in binary; a gain of 11.3 on paper counts.
    baseline = 100 - 25 * 20 / 9
    assert reaches_mcid("koos.pain", baseline, baseline + 11.3) is True
    assert reaches_mcid("koos.pain", 0.1 + 0.2, 11.6) is True  # 11.6 - 0.30000000000000004 < 11.3 in floats


def test_unknown_measure():
    with pytest.raises(ValueError, match=r"no threshold 'mcid.womac.pain'"):
        reaches_mcid("womac.pain", 1.0, 2.0)
    with pytest.raises(ValueError, match=r"no threshold 'mcid_group.vas.pain'"):
        reaches_mcid("vas.pain", 1.0, 2.0, level="group")


def test_explicit_thresholds_are_used():
    strict = merge_thresholds({"mcid.koos.pain": 15})
    assert reaches_mcid("koos.pain", 50.0, 60.0, strict) is False
    assert reaches_mcid("koos.pain", 50.0, 65.0, strict) is True


# --- deterioration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "baseline", "follow_up", "expected"),
    [
        ("vas.pain", 30.0, 50.0, True),  # +20 mm
        ("vas.pain", 30.0, 49.0, False),
        ("vas.pain", 50.0, 10.0, False),
        ("koos.pain", 60.0, 50.0, True),  # -10
        ("koos.pain", 60.0, 51.0, False),
        ("koos.pain", 50.0, 80.0, False),
        ("oks.total", 30.0, 25.0, True),  # -5
        ("oks.total", 30.0, 26.0, False),
        ("oks.total", None, 10.0, None),
    ],
)
def test_is_deterioration(measure, baseline, follow_up, expected):
    assert is_deterioration(measure, baseline, follow_up) is expected


def test_deterioration_flags():
    baseline = {"vas.pain": 30.0, "koos.pain": 60.0, "oks.total": 30.0, "koos.adl": 80.0}
    follow_up = {"vas.pain": 55.0, "koos.pain": 55.0, "oks.total": 20.0, "koos.adl": 10.0}
    # KOOS ADL has no deterioration rule; KOOS Pain fell only 5.
    assert deterioration_flags(baseline, follow_up) == ["oks.total", "vas.pain"]  # in the order of outcomes.measures
    assert deterioration_flags(baseline, {}) == []


# --- thresholds ----------------------------------------------------------------------------------------------


def test_defaults_carry_value_direction_and_source():
    t = get_thresholds()
    assert (t["mcid.koos.pain"].value, t["mcid.koos.pain"].direction) == (11.3, "increase")
    assert (t["mcid.oks.total"].value, t["mcid_group.oks.total"].value) == (7.0, 5.0)
    assert (t["mcid.vas.pain"].value, t["mcid.vas.pain"].direction) == (20.0, "decrease")
    assert (t["deterioration.vas.pain"].value, t["deterioration.vas.pain"].direction) == (20.0, "increase")
    assert (t["deterioration.koos.pain"].value, t["deterioration.koos.pain"].direction) == (10.0, "decrease")
    assert (t["deterioration.oks.total"].value, t["deterioration.oks.total"].direction) == (5.0, "decrease")
    assert "41367621" in t["mcid.koos.qol"].source
    assert "Roos" in t["deterioration.koos.pain"].source  # the worsening signal states what it rests on
    assert "Beard" in t["mcid.oks.total"].source
    assert all(th.source for th in t.values())


def test_settings_override(settings):
    settings.OUTCOME_THRESHOLDS = {
        "mcid.vas.pain": 15,
        "mcid.koos.pain": {"value": 11.3, "source": "PubMed 41367621, mild-moderate OA"},
    }
    t = get_thresholds()
    assert (t["mcid.vas.pain"].value, t["mcid.vas.pain"].source) == (15.0, "settings.OUTCOME_THRESHOLDS")
    assert t["mcid.vas.pain"].direction == "decrease"  # direction is the measure's, not overridable
    assert t["mcid.koos.pain"].source == "PubMed 41367621, mild-moderate OA"
    assert t["mcid.koos.adl"] == DEFAULTS["mcid.koos.adl"]
    assert reaches_mcid("vas.pain", 60.0, 45.0) is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mcid.womac": 10}, r"OUTCOME_THRESHOLDS\['mcid.womac'\]: unknown threshold"),
        ({"mcid.vas.pain": "20"}, r"OUTCOME_THRESHOLDS\['mcid.vas.pain'\]: value '20' must be a positive number"),
        ({"mcid.vas.pain": True}, r"\['mcid.vas.pain'\]: value True must be"),
        ({"mcid.vas.pain": -5}, r"\['mcid.vas.pain'\]: value -5 must be"),
        ({"mcid.vas.pain": float("inf")}, r"\['mcid.vas.pain'\]: value inf must be"),
        ({"mcid.vas.pain": {"value": 10, "direction": "increase"}}, r"\['mcid.vas.pain'\]: expected a number"),
        ({"mcid.vas.pain": {"value": 10, "source": ""}}, r"\['mcid.vas.pain'\]: source must be"),
    ],
)
def test_bad_overrides(settings, overrides, message):
    settings.OUTCOME_THRESHOLDS = overrides
    with pytest.raises(ValueError, match=message):
        get_thresholds()


def test_override_must_be_a_dict():
    with pytest.raises(ValueError, match="OUTCOME_THRESHOLDS must be a dict"):
        merge_thresholds([("mcid.vas.pain", 10)])


# --- OMERACT-OARSI (0-100, higher = worse) -------------------------------------------------------------------


def test_criterion_a_by_pain():
    # pain 60 -> 30: 30 points and 50 %
    result = omeract_oarsi_responder(60, 30, 50, 50)
    assert (result.responder, result.criterion) == (True, "A")


def test_criterion_a_by_function_at_the_limit():
    # function 40 -> 20: exactly 20 points and 50 %, inclusive
    assert omeract_oarsi_responder(50, 50, 40, 20).criterion == "A"


def test_criterion_a_needs_both_relative_and_absolute():
    # pain 30 -> 12: 60 % but 18 points (no A); B then needs another domain
    assert omeract_oarsi_responder(30, 12, 50, 50).responder is False
    # pain 90 -> 60: 30 points but 33 % (no A)
    assert omeract_oarsi_responder(90, 60, 50, 50).responder is False


def test_criterion_b_with_global():
    # pain 50 -> 38 (12 points, 24 %) and global 60 -> 45 (15, 25 %); function unchanged
    result = omeract_oarsi_responder(50, 38, 50, 50, 60, 45)
    assert (result.responder, result.criterion) == (True, "B")
    # global barely moves (60 -> 55: 5 points): only 1 of 3
    assert omeract_oarsi_responder(50, 38, 50, 50, 60, 55).responder is False


def test_criterion_b_without_global_needs_pain_and_function():
    # pain 50 -> 38 and function 50 -> 40 (10 points, 20 %, inclusive)
    assert omeract_oarsi_responder(50, 38, 50, 40).criterion == "B"
    assert omeract_oarsi_responder(50, 38, 50, 45).responder is False


def test_criterion_b_moderate_needs_relative_and_absolute():
    # pain 90 -> 79 and function 90 -> 79: 11 points but 12 % each
    assert omeract_oarsi_responder(90, 79, 90, 79).responder is False
    # pain 12 -> 4 and function 12 -> 4: 67 % but 8 points each
    assert omeract_oarsi_responder(12, 4, 12, 4).responder is False


def test_baseline_zero_guard():
    # nothing to improve from 0: not a responder, and no division by zero
    result = omeract_oarsi_responder(0, 0, 0, 10, 0, 0)
    assert (result.responder, result.criterion) == (False, None)
    # a zero in one domain does not block the others
    assert omeract_oarsi_responder(0, 0, 60, 20).criterion == "A"


def test_missing_core_inputs_give_none():
    assert omeract_oarsi_responder(None, 30, 50, 40).responder is None
    assert omeract_oarsi_responder(60, 30, 50, None).responder is None


def test_global_missing_at_one_timepoint():
    # pain moderate only: the global would decide B, so unknown
    assert omeract_oarsi_responder(50, 38, 50, 50, 60, None).responder is None
    # A or B already met without the global: still decided
    assert omeract_oarsi_responder(60, 30, 50, 50, None, 40).criterion == "A"
    assert omeract_oarsi_responder(50, 38, 50, 40, 60, None).criterion == "B"
    # no domain improved: the global alone cannot make B
    assert omeract_oarsi_responder(50, 50, 50, 50, 60, None).responder is False


@pytest.mark.parametrize("bad", [101, -1, True, "50"])
def test_omeract_rejects_values_off_scale(bad):
    with pytest.raises(ValueError, match="OMERACT-OARSI pain_follow"):
        omeract_oarsi_responder(50, bad, 50, 50)


def test_inputs_from_koos_and_pga():
    baseline = {**measures("KOOS", {"pain": 40.0, "adl": 50.0}), "pga.global": 70.0, "vas.pain": 80.0}
    follow_up = {**measures("KOOS", {"pain": 75.0, "adl": 60.0}), "pga.global": 40.0, "vas.pain": 20.0}
    inputs = omeract_inputs(baseline, follow_up)
    # pain = 100 - KOOS Pain: 60 -> 25 (KOOS preferred to VAS); function = 100 - ADL: 50 -> 40
    assert (inputs.pain_baseline, inputs.pain_follow, inputs.pain_source) == (60.0, 25.0, "koos")
    assert (inputs.function_baseline, inputs.function_follow) == (50.0, 40.0)
    assert (inputs.global_baseline, inputs.global_follow) == (70.0, 40.0)
    result = omeract_oarsi_from_scores(baseline, follow_up)
    # pain improved 35 points, 58 %
    assert (result.responder, result.criterion, result.pain_source) == (True, "A", "koos")


def test_inputs_fall_back_to_vas_at_both_timepoints():
    # KOOS Pain missing at follow-up: VAS is used at both timepoints, never KOOS at one and VAS at the other.
    baseline = {"koos.pain": 40.0, "vas.pain": 70.0, "koos.adl": 50.0}
    follow_up = {"koos.pain": None, "vas.pain": 30.0, "koos.adl": 55.0}
    inputs = omeract_inputs(baseline, follow_up)
    assert (inputs.pain_baseline, inputs.pain_follow, inputs.pain_source) == (70.0, 30.0, "vas")
    assert omeract_oarsi_from_scores(baseline, follow_up).criterion == "A"


def test_inputs_missing_function_give_none():
    result = omeract_oarsi_from_scores({"koos.pain": 20.0}, {"koos.pain": 90.0})
    assert result.responder is None


def test_end_to_end_from_questionnaires():
    # Baseline: every KOOS item 3 -> Pain 25, ADL 25; follow-up: every item 1 -> Pain 75, ADL 75.
    koos_codes = [f"P{i}" for i in range(1, 10)] + [f"A{i}" for i in range(1, 18)]
    baseline = measures("KOOS", score("KOOS", dict.fromkeys(koos_codes, 3)))
    follow_up = measures("KOOS", score("KOOS", dict.fromkeys(koos_codes, 1)))
    assert change_from_baseline(baseline, follow_up)["koos.pain"] == 50.0
    assert reaches_mcid("koos.pain", baseline["koos.pain"], follow_up["koos.pain"]) is True
    # 100 - Pain: 75 -> 25 (50 points, 67 %)
    assert omeract_oarsi_from_scores(baseline, follow_up).criterion == "A"

"""Hand-worked scoring examples (reference sections 1-3). Expected values are worked out in the comments."""

import math

import pytest

from outcomes.instruments import get_instrument
from outcomes.scoring import koos4, measures, score, score_detail, validate_answers, yes_answers

KOOS_KEYS = {"pain", "symptoms", "adl", "sport_rec", "qol"}


def items(prefix, values, start=1):
    return {f"{prefix}{i}": v for i, v in enumerate(values, start=start)}


def oks(values):
    return items("Q", values)


# --- KOOS: one hand-worked example per subscale ------------------------------------------------------------

FULL_KOOS = {
    # Pain P1-P9: 1+2+0+1+3+2+1+0+2 = 12; 100 - 25 x 12/9 = 100 - 33.33 = 66.67
    **items("P", [1, 2, 0, 1, 3, 2, 1, 0, 2]),
    # Symptoms S1-S7: 2+1+0+4+3+2+1 = 13; 100 - 25 x 13/7 = 100 - 46.43 = 53.57
    **items("S", [2, 1, 0, 4, 3, 2, 1]),
    # ADL A1-A17: fifteen 1s + 4 + 0 = 19; 100 - 25 x 19/17 = 100 - 27.94 = 72.06
    **items("A", [1] * 15 + [4, 0]),
    # Sport/Rec SP1-SP5: 4+4+3+2+2 = 15; 100 - 25 x 15/5 = 25
    **items("SP", [4, 4, 3, 2, 2]),
    # QOL Q1-Q4: 3+2+2+1 = 8; 100 - 25 x 8/4 = 50
    **items("Q", [3, 2, 2, 1]),
}


def test_koos_hand_worked_every_subscale():
    result = score("KOOS", FULL_KOOS)
    assert set(result) == KOOS_KEYS
    assert result["pain"] == pytest.approx(100 - 25 * 12 / 9)
    assert result["pain"] == pytest.approx(66.6667, abs=1e-4)
    assert result["symptoms"] == pytest.approx(53.5714, abs=1e-4)
    assert result["adl"] == pytest.approx(72.0588, abs=1e-4)
    assert result["sport_rec"] == 25.0
    assert result["qol"] == 50.0


def test_koos_scores_are_stored_unrounded():
    # 66.666... must not come back as 66.7 (reference 1.3: round for display only).
    assert score("KOOS", FULL_KOOS)["pain"] != round(score("KOOS", FULL_KOOS)["pain"], 1)


def test_koos_extremes():
    no_problems = dict.fromkeys(get_instrument("KOOS").item_codes, 0)
    extreme = dict.fromkeys(get_instrument("KOOS").item_codes, 4)
    assert score("KOOS", no_problems) == dict.fromkeys(KOOS_KEYS, 100.0)
    assert score("KOOS", extreme) == dict.fromkeys(KOOS_KEYS, 0.0)


def test_koos_empty_answers_give_no_scores():
    assert score("KOOS", {}) == dict.fromkeys(KOOS_KEYS)


# --- KOOS missing items, 2012 rule: at the limit and one below ---------------------------------------------


@pytest.mark.parametrize(
    ("subscale", "prefix", "at_limit", "expected"),
    [
        # 5 of 9 answered, all 2: 100 - 25 x 10/5 = 50
        ("pain", "P", [2, 2, 2, 2, 2], 50.0),
        # 4 of 7: 0+0+0+4 = 4; 100 - 25 x 4/4 = 75
        ("symptoms", "S", [0, 0, 0, 4], 75.0),
        # 9 of 17, all 3: 100 - 25 x 27/9 = 25
        ("adl", "A", [3] * 9, 25.0),
        # 3 of 5, all 1: 100 - 25 x 3/3 = 75
        ("sport_rec", "SP", [1, 1, 1], 75.0),
        # 2 of 4: 0+2 = 2; 100 - 25 x 2/2 = 75
        ("qol", "Q", [0, 2], 75.0),
    ],
)
def test_koos_missing_item_rule(subscale, prefix, at_limit, expected):
    detail = score_detail("KOOS", items(prefix, at_limit)).scales[subscale]
    assert detail.score == expected
    assert detail.answered == len(at_limit)
    assert detail.imputed is True  # the mean of the answered items stands in for the missing ones

    one_short = items(prefix, at_limit[:-1])
    assert score("KOOS", one_short)[subscale] is None
    assert score_detail("KOOS", one_short).scales[subscale].imputed is False


def test_koos_none_values_count_as_missing():
    answers = {**items("P", [2, 2, 2, 2]), "P5": None, "P6": None}
    assert score("KOOS", answers)["pain"] is None


def test_koos_subscales_are_independent():
    result = score("KOOS", items("Q", [1, 1, 1, 1]))
    assert result == {"pain": None, "symptoms": None, "adl": None, "sport_rec": None, "qol": 75.0}


def test_koos_detail_counts():
    detail = score_detail("KOOS", FULL_KOOS)
    assert detail.instrument == "KOOS"
    assert detail.version == "2012"
    assert "2012" in detail.rule
    pain = detail.scales["pain"]
    assert (pain.answered, pain.missing, pain.imputed, pain.raw) == (9, 0, False, 12.0)
    stored = detail.as_dict()
    assert stored["scales"]["adl"]["answered"] == 17


# --- KOOS S4/S5 option order ---------------------------------------------------------------------------------


def test_s4_s5_options_score_by_definition_not_position():
    koos = get_instrument("KOOS")
    # S1-S3 run Never (0) -> Always (4); S4-S5 are printed Always -> Never, so Always = 0 (reference 1.2).
    assert koos.option_score("S1", "Always") == 4
    assert koos.option_score("S4", "Always") == 0
    assert koos.option_score("S5", "Always") == 0
    assert koos.option_score("S4", "Never") == 4
    assert koos.option_score("S5", "Never") == 4


def test_s4_s5_labels_score_through_the_definition():
    koos = get_instrument("KOOS")
    # A patient who always swells (S1-S3 "Always") but can always straighten and bend (S4-S5 "Always"),
    # with no stiffness (S6-S7 "None"): 4+4+4+0+0+0+0 = 12; 100 - 25 x 12/7 = 57.14
    labels = {
        "S1": "Always",
        "S2": "Always",
        "S3": "Always",
        "S4": "Always",
        "S5": "Always",
        "S6": "None",
        "S7": "None",
    }
    answers = {code: koos.option_score(code, label) for code, label in labels.items()}
    assert score("KOOS", answers)["symptoms"] == pytest.approx(100 - 25 * 12 / 7)


# --- KOOS4 ---------------------------------------------------------------------------------------------------


def test_koos4_is_mean_of_four_subscales_without_adl():
    subscales = score("KOOS", FULL_KOOS)
    # (66.667 + 53.571 + 25 + 50) / 4 = 48.81; ADL (72.06) is not included
    expected = (100 - 25 * 12 / 9 + 100 - 25 * 13 / 7 + 25 + 50) / 4
    assert koos4(subscales) == pytest.approx(expected)
    assert koos4(subscales) == pytest.approx(48.8095, abs=1e-4)
    assert koos4({**subscales, "adl": None}) == pytest.approx(expected)


@pytest.mark.parametrize("missing", ["pain", "symptoms", "sport_rec", "qol"])
def test_koos4_none_if_any_component_missing(missing):
    subscales = {**score("KOOS", FULL_KOOS), missing: None}
    assert koos4(subscales) is None


def test_koos4_rejects_incomplete_mapping():
    with pytest.raises(ValueError, match="needs the subscales qol"):
        koos4({"pain": 50.0, "symptoms": 50.0, "sport_rec": 50.0})


# --- OKS -----------------------------------------------------------------------------------------------------


def test_oks_complete_total_is_sum():
    # 4+4+3+3+2+2+1+1+0+0+4+3 = 27
    detail = score_detail("OKS", oks([4, 4, 3, 3, 2, 2, 1, 1, 0, 0, 4, 3])).scales["total"]
    assert detail.score == 27
    assert (detail.imputed, detail.missing) == (False, 0)


def test_oks_bounds():
    assert score("OKS", oks([4] * 12)) == {"total": 48.0}  # 48 = best
    assert score("OKS", oks([0] * 12)) == {"total": 0.0}


def test_oks_one_missing_is_imputed():
    # 11 answered, all 3: mean 3 x 12 = 36
    detail = score_detail("OKS", oks([3] * 11)).scales["total"]
    assert (detail.score, detail.imputed, detail.missing, detail.answered) == (36.0, True, 1, 11)


def test_oks_two_missing_is_imputed_and_may_be_fractional():
    # 10 answered: 4+4+4+3+3+3+2+2+1+1 = 27; mean 2.7 x 12 = 32.4
    detail = score_detail("OKS", oks([4, 4, 4, 3, 3, 3, 2, 2, 1, 1])).scales["total"]
    assert detail.score == pytest.approx(32.4)
    assert (detail.imputed, detail.missing) == (True, 2)


def test_oks_three_missing_gives_no_total():
    detail = score_detail("OKS", oks([4] * 9)).scales["total"]
    assert detail.score is None
    assert (detail.imputed, detail.missing) == (False, 3)


def test_oks_option_order_best_first():
    inst = get_instrument("OKS")
    for item in inst.items:
        assert item.options[0].score == 4  # the first (best) option scores 4: 0-48 scoring, 48 = best


# --- VAS, PGA, KOOS JR, SAFETY -------------------------------------------------------------------------------


@pytest.mark.parametrize("mm", [0, 1, 37, 99, 100])
def test_vas_passes_value_through(mm):
    assert score("VAS", {"pain": mm}) == {"pain": mm}


@pytest.mark.parametrize("mm", [-1, 101, 1000])
def test_vas_out_of_bounds(mm):
    with pytest.raises(ValueError, match=rf"^VAS item 'pain': score {mm} is out of range 0-100$"):
        score("VAS", {"pain": mm})


def test_vas_missing():
    assert score("VAS", {}) == {"pain": None}
    assert score("VAS", {"pain": None}) == {"pain": None}


def test_pga():
    assert score("PGA", {"global": 35}) == {"global": 35.0}
    assert score("PGA", {}) == {"global": None}
    with pytest.raises(ValueError, match="PGA item 'global': score 101"):
        score("PGA", {"global": 101})


def test_koos_jr_conversion_table():
    codes = get_instrument("KOOS_JR").item_codes
    assert codes == ("S6", "P2", "P3", "P6", "P9", "A3", "A5")
    assert score("KOOS_JR", dict.fromkeys(codes, 0)) == {"interval": 100.0}
    assert score("KOOS_JR", dict.fromkeys(codes, 4)) == {"interval": 0.0}
    assert score("KOOS_JR", dict.fromkeys(codes, 1)) == {"interval": 68.284}  # raw 7
    assert score("KOOS_JR", dict.fromkeys(codes, 2)) == {"interval": 52.465}  # raw 14
    assert score("KOOS_JR", dict.fromkeys(codes[:6], 0)) == {"interval": None}  # all 7 required


def test_safety_is_validated_but_not_scored():
    answers = {"swelling": True, "fever": False, "harvest_site_problem": True, "other": "sore for 2 days"}
    assert score("SAFETY", answers) == {}
    assert yes_answers("SAFETY", answers) == ["swelling", "harvest_site_problem"]
    with pytest.raises(ValueError, match=r"SAFETY item 'fever': answer 1 must be true or false"):
        score("SAFETY", {"fever": 1})
    with pytest.raises(ValueError, match=r"SAFETY item 'other': answer 3 must be text"):
        score("SAFETY", {"other": 3})


# --- validation errors ---------------------------------------------------------------------------------------


def test_unknown_item():
    with pytest.raises(ValueError, match=r"^KOOS item 'P10' is not an item of KOOS$"):
        score("KOOS", {"P10": 1})
    with pytest.raises(ValueError, match=r"^OKS item 'OKS1' is not an item of OKS$"):
        score("OKS", {"OKS1": 1})


@pytest.mark.parametrize("value", [5, -1, 100])
def test_koos_out_of_range(value):
    with pytest.raises(ValueError, match=rf"^KOOS item 'P1': score {value} is out of range 0-4$"):
        score("KOOS", {"P1": value})


def test_oks_out_of_range():
    with pytest.raises(ValueError, match=r"^OKS item 'Q12': score 5 is out of range 0-4$"):
        score("OKS", oks([4] * 11 + [5]))


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "True"), (False, "False"), ("3", "'3'"), (2.5, "2.5"), ([2], r"\[2\]"), (math.nan, "nan")],
)
def test_non_integer_scores_rejected(value, shown):
    with pytest.raises(ValueError, match=rf"^KOOS item 'P1': score {shown} is not an integer$"):
        score("KOOS", {"P1": value})


def test_bools_rejected_for_sliders():
    with pytest.raises(ValueError, match="VAS item 'pain': score True is not an integer"):
        score("VAS", {"pain": True})


def test_integral_floats_accepted_as_integers():
    assert validate_answers("KOOS", {"P1": 2.0}) == {"P1": 2}
    assert score("VAS", {"pain": 40.0}) == {"pain": 40.0}


def test_unknown_instrument():
    with pytest.raises(ValueError, match=r"unknown instrument 'WOMAC' \(known: FURTHER, KOOS, KOOS_JR, OKS"):
        score("WOMAC", {})


def test_unknown_version():
    with pytest.raises(ValueError, match=r"unknown version '1998' of KOOS \(known: 2012\)"):
        score("KOOS", {}, version="1998")


def test_answers_must_be_a_mapping():
    with pytest.raises(ValueError, match="KOOS answers must be a mapping"):
        score("KOOS", [("P1", 1)])


def test_validation_does_not_stop_at_scored_items():
    # An invalid answer in an item of a subscale that ends up unscored still raises.
    with pytest.raises(ValueError, match="KOOS item 'Q1': score 9"):
        score("KOOS", {**FULL_KOOS, "Q1": 9})


# --- measure names -------------------------------------------------------------------------------------------


def test_measures_prefix_scores_with_instrument():
    assert measures("KOOS", {"pain": 50.0, "adl": None}) == {"koos.pain": 50.0, "koos.adl": None}
    assert measures("OKS", score("OKS", oks([4] * 12))) == {"oks.total": 48.0}

"""Properties of KOOS and OKS scoring that must hold for any valid answers (reference 1.3 and 2)."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from outcomes.instruments import get_instrument
from outcomes.scoring import score, score_detail

KOOS = get_instrument("KOOS")
OKS = get_instrument("OKS")
KOOS_SCALES = KOOS.scoring.scales


def answer_sets(instrument):
    """Any valid answers: each item missing, None, or a valid score."""
    return st.fixed_dictionaries(
        {}, optional={code: st.one_of(st.none(), st.integers(0, 4)) for code in instrument.item_codes}
    )


def answered(answers, codes):
    return [answers[c] for c in codes if answers.get(c) is not None]


@st.composite
def answers_with_raisable_item(draw, instrument):
    """Answers plus one answered item whose score is below 4, so it can be raised by one."""
    answers = draw(answer_sets(instrument))
    code = draw(st.sampled_from(instrument.item_codes))
    answers[code] = draw(st.integers(0, 3))
    return answers, code


@given(answer_sets(KOOS))
def test_koos_subscales_within_0_100(answers):
    for value in score("KOOS", answers).values():
        assert value is None or 0 <= value <= 100


@given(answer_sets(KOOS))
def test_koos_scored_iff_minimum_answered(answers):
    result = score("KOOS", answers)
    for scale in KOOS_SCALES:
        enough = len(answered(answers, scale.items)) >= scale.min_answered
        assert (result[scale.code] is not None) == enough


@given(answer_sets(KOOS))
def test_koos_matches_exact_formula(answers):
    result = score("KOOS", answers)
    for scale in KOOS_SCALES:
        values = answered(answers, scale.items)
        if result[scale.code] is not None:
            exact = 100 - Fraction(100, 4) * Fraction(sum(values), len(values))
            assert abs(result[scale.code] - float(exact)) < 1e-9


@given(answers_with_raisable_item(KOOS))
def test_koos_more_problems_never_raise_a_subscale(case):
    answers, code = case
    before = score("KOOS", answers)
    after = score("KOOS", {**answers, code: answers[code] + 1})
    for sub, value in before.items():
        assert (value is None) == (after[sub] is None)  # the answered count is unchanged
        if value is not None:
            assert after[sub] <= value


@given(answer_sets(OKS))
def test_oks_scored_iff_at_most_two_missing(answers):
    detail = score_detail("OKS", answers).scales["total"]
    missing = 12 - len(answered(answers, OKS.item_codes))
    assert (detail.score is not None) == (missing <= 2)
    assert detail.missing == missing
    assert detail.imputed == (0 < missing <= 2)
    if detail.score is not None:
        assert 0 <= detail.score <= 48


@given(st.lists(st.integers(0, 4), min_size=12, max_size=12))
def test_oks_complete_total_equals_sum(values):
    answers = dict(zip(OKS.item_codes, values, strict=True))
    assert score("OKS", answers) == {"total": sum(values)}


@given(answers_with_raisable_item(OKS))
def test_oks_better_item_never_lowers_total(case):
    answers, code = case
    before = score("OKS", answers)["total"]
    after = score("OKS", {**answers, code: answers[code] + 1})["total"]
    assert (before is None) == (after is None)
    if before is not None:
        assert after >= before


@given(st.integers(0, 100))
def test_vas_any_valid_value_is_returned(mm):
    assert score("VAS", {"pain": mm}) == {"pain": mm}

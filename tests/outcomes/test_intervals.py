"""Wilson and exact (Clopper-Pearson) 95 % intervals against published values and hand computation.

Published: Newcombe RG, "Two-sided confidence intervals for the single proportion: comparison of seven methods",
Stat Med 1998;17:857-872, Table II (method 3, Wilson score without continuity correction; method 5, exact
Clopper-Pearson), to four decimals.
"""

import math

import pytest

from outcomes.analysis.stats import clopper_pearson, share, wilson

# (n, N): (Wilson low, high), (exact low, high): Newcombe 1998, Table II.
NEWCOMBE = {
    (81, 263): ((0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148): ((0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20): ((0.0, 0.1611), (0.0, 0.1684)),
    (1, 29): ((0.0061, 0.1718), (0.0009, 0.1776)),
}


@pytest.mark.parametrize(("n", "total"), list(NEWCOMBE))
def test_wilson_matches_newcombe_1998(n, total):
    low, high = wilson(n, total)
    assert (round(low, 4), round(high, 4)) == NEWCOMBE[(n, total)][0]


@pytest.mark.parametrize(("n", "total"), list(NEWCOMBE))
def test_clopper_pearson_matches_newcombe_1998(n, total):
    low, high = clopper_pearson(n, total)
    assert (round(low, 4), round(high, 4)) == NEWCOMBE[(n, total)][1]


def test_wilson_by_hand_at_the_edges():
    z2 = 1.959963984540054**2
    # 0 of n: low 0, high z^2 / (n + z^2); n of n mirrors it.
    assert wilson(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)
    # Half of a small and of a large sample: symmetric about one half, narrower with n.
    small, large = wilson(1, 2), wilson(5000, 10000)
    assert small[0] == pytest.approx(1 - small[1])
    assert large == (pytest.approx(0.5 - 0.0098, abs=1e-4), pytest.approx(0.5 + 0.0098, abs=1e-4))
    assert wilson(0, 0) is None


def test_exact_interval_closed_forms_at_zero_and_all():
    low, high = clopper_pearson(0, 212)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 212))
    assert round(100 * high, 2) == 1.72  # "0 of 212, upper 95% 1.7%"
    assert clopper_pearson(212, 212) == (pytest.approx(0.025 ** (1 / 212)), 1.0)
    assert clopper_pearson(0, 1) == (0.0, pytest.approx(0.975))


def test_exact_interval_by_hand_for_one_event():
    # 1 of n: the lower limit solves (1 - p)^n = 0.975, a closed form the bisection must reproduce.
    low, high = clopper_pearson(1, 10)
    assert low == pytest.approx(1 - 0.975 ** (1 / 10), abs=1e-10)
    # The upper limit p leaves 2.5 % at or below 1 event: (1-p)^10 + 10 p (1-p)^9 = 0.025.
    assert (1 - high) ** 10 + 10 * high * (1 - high) ** 9 == pytest.approx(0.025, abs=1e-10)
    assert round(high, 4) == 0.4450


def test_exact_interval_at_large_n_approaches_the_normal_one():
    low, high = clopper_pearson(3000, 10000)
    half = 1.96 * math.sqrt(0.3 * 0.7 / 10000)
    assert low == pytest.approx(0.3 - half, abs=3e-4)
    assert high == pytest.approx(0.3 + half, abs=3e-4)
    assert low < 0.3 < high


def test_intervals_refuse_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and the denominator"):
        wilson(5, 4)
    with pytest.raises(ValueError, match="between 0 and the denominator"):
        clopper_pearson(-1, 4)
    assert clopper_pearson(0, 0) is None


def test_share_carries_its_wilson_interval_in_percent():
    s = share(81, 263)
    assert (round(s.ci_low, 2), round(s.ci_high, 2)) == (25.53, 36.62)
    assert s.ci_low < s.pct < s.ci_high
    empty = share(0, 0)
    assert (empty.pct, empty.ci_low, empty.ci_high) == (None, None, None)


@pytest.mark.parametrize(
    ("events", "total"), [(1, 3), (2, 50), (37, 212), (499, 500), (1200, 70000), (35000, 70000), (69990, 70000)]
)
def test_exact_interval_equals_scipys_beta_quantiles_up_to_registry_size(events, total):
    """The limits are the beta quantiles Beta(0.025; x, n - x + 1) and Beta(0.975; x + 1, n - x), also for the
    tens of thousands of injections of a national registry (scipy is a test-only dependency here)."""
    from scipy.stats import beta

    low, high = clopper_pearson(events, total)
    assert low == pytest.approx(beta.ppf(0.025, events, total - events + 1), rel=1e-9)
    assert high == pytest.approx(beta.ppf(0.975, events + 1, total - events), rel=1e-9)

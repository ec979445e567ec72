"""Means and 95 % confidence intervals from aggregated sums (n, sum, sum of squares): the database adds up,
this module only divides. Pure functions, no Django.

The t quantile comes from a table (df 1-30, to 7 decimals, as printed in standard statistical tables) and, above
30, the Cornish-Fisher expansion of Student's t about the normal quantile (Abramowitz & Stegun 26.7.5), which
agrees with the exact value to better than 1e-5 from df 30 on. scipy is not a dependency for one number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

Z_975 = 1.959963984540054  # standard normal 0.975 quantile

# Student's t, 0.975 quantile (two-sided 95 %), by degrees of freedom.
T_975 = {
    1: 12.7062047,
    2: 4.3026527,
    3: 3.1824463,
    4: 2.7764451,
    5: 2.5705818,
    6: 2.4469119,
    7: 2.3646243,
    8: 2.3060041,
    9: 2.2621572,
    10: 2.2281389,
    11: 2.2009852,
    12: 2.1788128,
    13: 2.1603687,
    14: 2.1447867,
    15: 2.1314495,
    16: 2.1199053,
    17: 2.1098156,
    18: 2.1009220,
    19: 2.0930241,
    20: 2.0859634,
    21: 2.0796138,
    22: 2.0738731,
    23: 2.0686576,
    24: 2.0638986,
    25: 2.0595386,
    26: 2.0555294,
    27: 2.0518311,
    28: 2.0484071,
    29: 2.0452296,
    30: 2.0422725,
}


def t_975(df: int) -> float:
    """Two-sided 95 % critical value of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df in T_975:
        return T_975[df]
    z, v = Z_975, float(df)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4


@dataclass(frozen=True)
class Mean:
    n: int
    mean: float | None
    sd: float | None  # sample SD (n - 1); None when n < 2
    ci_low: float | None  # mean -/+ t(0.975, n - 1) x SD / sqrt(n); None when n < 2
    ci_high: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def mean_ci(n: int | None, total: float | None, total_squares: float | None) -> Mean:
    """Mean, SD and 95 % CI of a sample known only by its count, sum and sum of squares."""
    n = int(n or 0)
    if n == 0:
        return Mean(0, None, None, None, None)
    mean = float(total or 0.0) / n
    if n < 2:
        return Mean(n, mean, None, None, None)
    # Sum of squared deviations; rounding can push a zero spread a hair below 0.
    ss = max(float(total_squares or 0.0) - float(total or 0.0) ** 2 / n, 0.0)
    sd = math.sqrt(ss / (n - 1))
    half = t_975(n - 1) * sd / math.sqrt(n)
    return Mean(n, mean, sd, mean - half, mean + half)


def wilson(n: int, total: int) -> tuple[float, float] | None:
    """Wilson score 95 % interval of the proportion n / total, as fractions (Newcombe 1998, method 3: no
    continuity correction). Stays inside 0-1 and is sound at 0 and at total, unlike the Wald interval."""
    if total <= 0:
        return None
    if not 0 <= n <= total:
        raise ValueError("n must lie between 0 and the denominator")
    z2 = Z_975**2
    p = n / total
    centre = p + z2 / (2 * total)
    half = Z_975 * math.sqrt(p * (1 - p) / total + z2 / (4 * total**2))
    denominator = 1 + z2 / total
    # At 0 and at total one limit is exactly 0 or 1; rounding would leave it a hair inside.
    low = 0.0 if n == 0 else (centre - half) / denominator
    high = 1.0 if n == total else (centre + half) / denominator
    return low, high


def newcombe(n1: int, total1: int, n2: int, total2: int) -> tuple[float, float] | None:
    """95 % interval of the difference of two independent proportions n1/total1 - n2/total2, as fractions:
    Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the two Wilson intervals. Unlike the
    Wald interval it stays inside -1..1 and behaves at 0 and at the denominators; his worked example 56/70 - 48/80
    gives 0.0524 to 0.3339."""
    first, second = wilson(n1, total1), wilson(n2, total2)
    if first is None or second is None:
        return None
    p1, p2 = n1 / total1, n2 / total2
    (l1, u1), (l2, u2) = first, second
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction evaluated with the modified
    Lentz method (Numerical Recipes, 2nd ed., 6.4), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the
    fraction converges slowly. Relative accuracy about 1e-14; a few dozen terms even for a = 50,000."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return min(1.0, math.exp(log_front) * fraction / a)


def _binomial_cdf(x: int, total: int, p: float) -> float:
    """P(X <= x) for X ~ Binomial(total, p) = I_{1-p}(total - x, x + 1): constant work whatever the counts (the
    term-by-term sum took seconds for the thousands of events of a large registry)."""
    if x < 0:
        return 0.0
    if x >= total or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return _incomplete_beta(total - x, x + 1, 1.0 - p)


def _binomial_cdf_slope(x: int, total: int, p: float) -> float:
    """d/dp P(X <= x) for X ~ Binomial(total, p): -total * P(Y = x) for Y ~ Binomial(total - 1, p)."""
    if not 0.0 < p < 1.0:
        return 0.0
    log_pmf = (
        math.lgamma(total)
        - math.lgamma(x + 1)
        - math.lgamma(total - x)
        + x * math.log(p)
        + (total - 1 - x) * math.log1p(-p)
    )
    return -total * math.exp(log_pmf)


def _solve_decreasing(f, target: float, slope=None, start: float = 0.5) -> float:
    """The p in 0-1 where the decreasing function f(p) crosses target. With ``slope`` (f's derivative): Newton's
    method from ``start`` inside a bracket that every step narrows, bisecting whenever a step would leave it, to a
    step below 1e-15 (about 5-10 evaluations: each is an incomplete beta, and a consultation page works out a couple
    of dozen intervals). Without: bisection (to 2^-60, below 1e-18)."""
    low, high = 0.0, 1.0
    if slope is None:
        for _ in range(60):
            mid = (low + high) / 2
            if f(mid) > target:
                low = mid
            else:
                high = mid
        return (low + high) / 2
    p = min(max(start, 1e-12), 1 - 1e-12)
    for _ in range(100):
        g = f(p) - target
        if g > 0:
            low = p
        elif g < 0:
            high = p
        else:
            return p
        d = slope(p)
        step = g / d if d else math.inf
        candidate = p - step
        if not low < candidate < high:
            candidate = (low + high) / 2
        if abs(candidate - p) < 1e-15 or high - low < 1e-15:
            return candidate
        p = candidate
    return p


def clopper_pearson(events: int, total: int) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) 95 % interval of events / total, as fractions. Each limit is the p at which the
    binomial tail beyond what was seen holds 2.5 % (the same as the beta quantiles Beta(0.025; x, n - x + 1) and
    Beta(0.975; x + 1, n - x)), found by bisection on the binomial CDF; 0 and total events take the closed forms:
    0 of n has upper limit 1 - 0.025^(1/n) (0 of 212: 1.72 %)."""
    if total <= 0:
        return None
    if not 0 <= events <= total:
        raise ValueError("events must lie between 0 and the denominator")
    tail = (1 - 0.95) / 2
    # Newton starts near the answer: the observed share, two normal-approximation standard errors either side.
    observed = events / total
    spread = 2 * math.sqrt(max(observed * (1 - observed), 1 / total) / total)
    if events == 0:
        low = 0.0
    elif events == total:
        low = tail ** (1 / total)
    else:  # P(X >= events) = 2.5 %: P(X <= events - 1) = 97.5 %
        low = _solve_decreasing(
            lambda p: _binomial_cdf(events - 1, total, p),
            1 - tail,
            lambda p: _binomial_cdf_slope(events - 1, total, p),
            start=max(observed - spread, observed / 2),
        )
    if events == total:
        high = 1.0
    elif events == 0:
        high = 1 - tail ** (1 / total)
    else:  # P(X <= events) = 2.5 %
        high = _solve_decreasing(
            lambda p: _binomial_cdf(events, total, p),
            tail,
            lambda p: _binomial_cdf_slope(events, total, p),
            start=min(observed + spread, (1 + observed) / 2),
        )
    return low, high


@dataclass(frozen=True)
class Share:
    """A proportion that always carries its counts: n of N, with its Wilson 95 % interval in percent."""

    n: int
    N: int  # the denominator, by its conventional name
    pct: float | None  # None when N is 0
    ci_low: float | None = None  # Wilson 95 %, in percent like pct; None when N is 0
    ci_high: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def share(n: int | None, total: int | None) -> Share:
    """n of N with its percentage and Wilson interval: the one way every proportion on the dashboard is made."""
    n, total = int(n or 0), int(total or 0)
    if not total:
        return Share(n, total, None)
    low, high = wilson(n, total)
    return Share(n, total, 100.0 * n / total, 100.0 * low, 100.0 * high)


__all__ = ["T_975", "Z_975", "Mean", "Share", "clopper_pearson", "mean_ci", "newcombe", "share", "t_975", "wilson"]

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


@dataclass(frozen=True)
class Share:
    """A proportion that always carries its counts: n of N."""

    n: int
    N: int  # the denominator, by its conventional name
    pct: float | None  # None when N is 0

    def as_dict(self) -> dict:
        return asdict(self)


def share(n: int | None, total: int | None) -> Share:
    n, total = int(n or 0), int(total or 0)
    return Share(n, total, (100.0 * n / total) if total else None)


__all__ = ["T_975", "Z_975", "Mean", "Share", "mean_ci", "share", "t_975"]

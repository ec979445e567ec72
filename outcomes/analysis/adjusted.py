"""Adjusted comparison of products: ANCOVA beside the raw mean change.

Products are chosen by clinicians for patients, not assigned at random, so a raw difference in mean change mixes
the product with who received it. This fits, per follow-up and measure, the usual ANCOVA of a registry paper:
follow-up score on the baseline score, KL grade (as categories), age, BMI and sex, with one indicator per product,
by ordinary least squares. Each product's coefficient is its adjusted mean difference from the reference product
(the one with the most knees), with a 95 % CI from t(0.975, n - p) x its standard error.

Complete cases only: a knee missing the score at baseline or follow-up is not in the model; one missing a
covariate (KL grade, age, BMI, sex "not recorded") is dropped and counted, so the page says how many. Products with
fewer knees than the minimum cell size (outcomes.analysis.disclosure) are left out of the model and named.

numpy's least squares does the arithmetic (tests/outcomes/test_adjusted.py checks it against statsmodels' OLS).
One query fetches the needed columns, one row per knee; the fits run in Python on those arrays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from outcomes.analysis import disclosure
from outcomes.analysis.cohort import first_injection
from outcomes.analysis.expressions import FOLLOW_UP_TIMEPOINTS, TIMEPOINTS
from outcomes.analysis.stats import mean_ci, t_975
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import Timepoint
from outcomes.models.plan_outcome import SHORT
from registry.choices import Product, Sex
from registry.models import TreatmentPlan

NOTICE = (
    "Observational data, not a comparison of treatments: products were chosen for patients, not assigned at random, "
    "so differences between them may reflect who received them. Adjusted estimates account only for the baseline "
    "score, KL grade, age, BMI and sex."
)
COVARIATES = ("kl_grade", "age", "bmi", "sex")
_SEXES = (Sex.FEMALE, Sex.MALE, Sex.OTHER)  # "not recorded" is a missing covariate


@dataclass(frozen=True)
class Knee:
    """One knee's row for one model: its product, scores and covariates (None where missing)."""

    product: str
    baseline: float | None
    follow_up: float | None
    kl_grade: int | None
    age: float | None
    bmi: float | None
    sex: str | None


@dataclass
class ProductEstimate:
    product: str
    label: str
    n: int  # knees in the model
    raw_change: dict[str, Any]  # mean change from baseline of those knees (stats.Mean)
    difference: float | None = None  # adjusted mean difference from the reference; None for the reference
    ci_low: float | None = None
    ci_high: float | None = None
    reference: bool = False


@dataclass
class Comparison:
    timepoint: str
    measure: str
    label: str
    n: int = 0  # knees in the model
    dropped_missing_covariate: int = 0  # knees scored at both timepoints but missing a covariate
    too_few: list[str] = field(default_factory=list)  # products left out: fewer knees than the minimum
    products: list[ProductEstimate] = field(default_factory=list)
    reason: str = ""  # why there is no estimate, when there is none

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _complete(knee: Knee) -> bool:
    return None not in (knee.kl_grade, knee.age, knee.bmi) and knee.sex in _SEXES


def _design(knees: Sequence[Knee], products: Sequence[str]) -> np.ndarray:
    """Intercept, product indicators (the first of ``products`` is the reference), baseline, KL grade indicators
    (the lowest grade present is the reference), age, BMI, sex indicators (female is the reference)."""
    grades = sorted({k.kl_grade for k in knees})[1:]
    sexes = [s for s in _SEXES[1:] if any(k.sex == s for k in knees)]
    rows = [
        [
            1.0,
            *(float(k.product == p) for p in products[1:]),
            float(k.baseline),
            *(float(k.kl_grade == g) for g in grades),
            float(k.age),
            float(k.bmi),
            *(float(k.sex == s) for s in sexes),
        ]
        for k in knees
    ]
    return np.asarray(rows, dtype=float)


def ancova(knees: Iterable[Knee], *, minimum: int, timepoint: str = "", measure: str = "", label: str = ""):
    """The adjusted comparison of the products among ``knees`` (see the module's notes)."""
    result = Comparison(timepoint, measure, label)
    scored = [k for k in knees if k.baseline is not None and k.follow_up is not None]
    complete = [k for k in scored if _complete(k)]
    result.dropped_missing_covariate = len(scored) - len(complete)
    sizes = Counter(k.product for k in complete)
    result.too_few = sorted(p for p, n in sizes.items() if n < minimum)
    # The reference: the product with the most knees (ties by code, so the choice is stable).
    products = sorted((p for p, n in sizes.items() if n >= minimum), key=lambda p: (-sizes[p], p))
    used = [k for k in complete if k.product in products]
    result.n = len(used)
    if len(products) < 2:
        result.reason = f"Fewer than two products with {minimum} or more knees scored at baseline and follow-up."
        return result
    x = _design(used, products)
    y = np.asarray([k.follow_up for k in used], dtype=float)
    p = x.shape[1]
    df = len(used) - p
    if df < 1 or np.linalg.matrix_rank(x) < p:
        result.reason = "Too few knees for the covariates, or covariates that do not vary: no adjusted estimate."
        return result
    beta, _, _, _ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    sigma2 = float(residuals @ residuals) / df
    covariance = sigma2 * np.linalg.inv(x.T @ x)
    t = t_975(df)
    names = dict(Product.choices)
    for i, product in enumerate(products):
        mine = [k.follow_up - k.baseline for k in used if k.product == product]
        raw = mean_ci(len(mine), sum(mine), sum(d * d for d in mine)).as_dict()
        estimate = ProductEstimate(product, str(names.get(product, product)), len(mine), raw, reference=i == 0)
        if i:
            se = float(np.sqrt(covariance[i, i]))
            estimate.difference = float(beta[i])
            estimate.ci_low, estimate.ci_high = estimate.difference - t * se, estimate.difference + t * se
        result.products.append(estimate)
    return result


def _knee_rows(plan_ids) -> list[tuple]:
    """One row per knee (plan) of the cohort: product, covariates, then every outcome score at every timepoint."""
    scores = [f"outcome_summary__{SHORT[tp]}_{m.column}" for tp in TIMEPOINTS for m in OUTCOME_MEASURES]
    return list(
        TreatmentPlan.objects.annotate(first=first_injection())
        .filter(pk__in=plan_ids)
        .order_by("pk")
        .values_list("product", "first__kl_grade", "first__age_at_injection", "first__bmi", "patient__sex", *scores)
    )


def adjusted_comparisons(plan_ids, *, minimum: int | None = None) -> list[dict[str, Any]]:
    """The adjusted comparison of products at every follow-up, for every outcome measure, over the plans in
    ``plan_ids`` (a queryset of ids). One query."""
    minimum = disclosure.minimum() if minimum is None else minimum
    rows = _knee_rows(plan_ids)
    columns = {(tp, m.column): 5 + i for i, (tp, m) in enumerate(
        (tp, m) for tp in TIMEPOINTS for m in OUTCOME_MEASURES)}  # fmt: skip
    out = []
    for tp in FOLLOW_UP_TIMEPOINTS:
        for m in OUTCOME_MEASURES:
            b, f = columns[(Timepoint.BASELINE, m.column)], columns[(tp, m.column)]
            knees = [Knee(r[0], r[b], r[f], r[1], r[2], None if r[3] is None else float(r[3]), r[4]) for r in rows]
            label = f"{m.label} ({m.reading})"
            out.append(ancova(knees, minimum=minimum, timepoint=tp, measure=m.column, label=label).as_dict())
    return out


__all__ = ["COVARIATES", "NOTICE", "Comparison", "Knee", "ProductEstimate", "adjusted_comparisons", "ancova"]

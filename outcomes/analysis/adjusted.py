"""Adjusted comparison of products: ANCOVA beside the raw mean change.

Products are chosen by clinicians for patients, not assigned at random, so a raw difference in mean change mixes
the product with who received it. This fits, per follow-up and measure, the usual ANCOVA of a registry paper:
follow-up score on the baseline score, KL grade (as categories), age, BMI and sex, with one indicator per product,
by ordinary least squares. Each product's coefficient is its adjusted mean difference from the reference product
(the one with the most knees), with a 95 % CI from t(0.975, n - p) x its standard error.

Complete cases only: a knee missing the score at baseline or follow-up is not in the model; one missing a
covariate (KL grade, age, BMI, sex "not recorded") is dropped and counted, so the page says how many. Products with
fewer knees than the minimum cell size (outcomes.analysis.disclosure) are left out of the model and named.

The database adds up, Python only solves: least squares needs only, per group of knees with the same product, KL
grade and sex, the count and the sums of baseline, follow-up, age and BMI and of every product of two of them (the
sufficient statistics, ``Cell``). One aggregate query over the cohort's per-plan summaries returns those cells for
every follow-up and measure, a few hundred rows whatever the registry's size; the normal equations are assembled
from them, with the continuous variables centred on their means so the solution keeps its precision.
tests/outcomes/test_adjusted.py checks the fit against statsmodels' OLS on the knees themselves, and the database's
cells against the same knees summed in Python.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations_with_replacement
from typing import Any

import numpy as np
from django.db.models import BooleanField, Case, Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from outcomes.analysis import aggregates, disclosure
from outcomes.analysis.expressions import FOLLOW_UP_TIMEPOINTS
from outcomes.analysis.stats import mean_ci, t_975
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models.plan_outcome import SHORT
from registry.choices import Product, Sex

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


# The continuous variables of a model: baseline score, follow-up score, age, BMI; and every product of two.
VARIABLES = ("b", "y", "age", "bmi")
PAIRS = tuple(combinations_with_replacement(VARIABLES, 2))


@dataclass(frozen=True)
class Cell:
    """Knees of one product, KL grade and sex scored at baseline and at the follow-up: how many, and the sums of
    each variable and of each product of two (``sums[("b",)]``, ``sums[("b", "y")]``...). ``complete``: KL grade,
    age, BMI and sex all recorded, so the knees can enter the model."""

    product: str
    kl_grade: int | None
    sex: str | None
    complete: bool
    n: int
    sums: Mapping[tuple[str, ...], float]

    def moments(self) -> np.ndarray:
        """The 5 x 5 matrix of sums of z z' over these knees, z = (1, b, y, age, bmi)."""
        first = [float(self.n), *(self.sums[(v,)] for v in VARIABLES)]
        matrix = np.empty((5, 5))
        matrix[0, :] = matrix[:, 0] = first
        for v, w in PAIRS:
            i, j = VARIABLES.index(v) + 1, VARIABLES.index(w) + 1
            matrix[i, j] = matrix[j, i] = self.sums[(v, w)]
        return matrix


def _centred(moments: np.ndarray) -> np.ndarray:
    """Moment matrices (cells x 5 x 5) of z - m, m the pooled means of z's variables: centring changes only the
    intercept of the fit and keeps the normal equations well conditioned."""
    means = np.concatenate([[0.0], moments[:, 0, 1:].sum(axis=0) / moments[:, 0, 0].sum()])
    shift = np.eye(5)
    shift[0, 1:] = -means[1:]  # (z - m) = shift' z, with z[0] = 1
    return np.einsum("ij,cjk,kl->cil", shift.T, moments, shift)


def _complete(kl_grade, age, bmi, sex) -> bool:
    return None not in (kl_grade, age, bmi) and sex in _SEXES


def cells_of(knees: Iterable[Knee]) -> list[Cell]:
    """The cells of ``knees`` summed in Python: what the database returns for the knees of a cohort."""
    groups: dict[tuple, list[Knee]] = defaultdict(list)
    for k in knees:
        if k.baseline is not None and k.follow_up is not None:
            groups[(k.product, k.kl_grade, k.sex, _complete(k.kl_grade, k.age, k.bmi, k.sex))].append(k)
    cells = []
    for (product, kl_grade, sex, complete), members in groups.items():
        values = [{"b": k.baseline, "y": k.follow_up, "age": k.age or 0.0, "bmi": k.bmi or 0.0} for k in members]
        sums = {(v,): float(sum(x[v] for x in values)) for v in VARIABLES}
        sums |= {(v, w): float(sum(x[v] * x[w] for x in values)) for v, w in PAIRS}
        cells.append(Cell(product, kl_grade, sex, complete, len(members), sums))
    return cells


def ancova(knees: Iterable[Knee], *, minimum: int, timepoint: str = "", measure: str = "", label: str = ""):
    """The adjusted comparison of the products among ``knees`` (see the module's notes)."""
    return fit(cells_of(knees), minimum=minimum, timepoint=timepoint, measure=measure, label=label)


def _design(cells: Sequence[Cell], products: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """The model's columns, each an indicator constant within a cell times one of z = (1, b, y, age, bmi):
    intercept, product indicators (the first of ``products`` is the reference), baseline, KL grade indicators (the
    lowest grade present is the reference), age, BMI, sex indicators (female is the reference). Returns the
    indicators (cells x columns) and the index into z of each column."""
    grades = sorted({c.kl_grade for c in cells})[1:]
    sexes = [s for s in _SEXES[1:] if any(c.sex == s for c in cells)]
    B, AGE, BMI = (VARIABLES.index(v) + 1 for v in ("b", "age", "bmi"))
    columns: list[tuple[Callable[[Cell], float], int]] = [
        (lambda c: 1.0, 0),
        *((lambda c, p=p: float(c.product == p), 0) for p in products[1:]),
        (lambda c: 1.0, B),
        *((lambda c, g=g: float(c.kl_grade == g), 0) for g in grades),
        (lambda c: 1.0, AGE),
        (lambda c: 1.0, BMI),
        *((lambda c, s=s: float(c.sex == s), 0) for s in sexes),
    ]
    indicators = np.array([[f(c) for f, _ in columns] for c in cells])
    return indicators, [z for _, z in columns]


def fit(cells: Iterable[Cell], *, minimum: int, timepoint: str = "", measure: str = "", label: str = ""):
    """The adjusted comparison of the products from their knees' cells (see the module's notes)."""
    result = Comparison(timepoint, measure, label)
    cells = [c for c in cells if c.n]
    complete = [c for c in cells if c.complete]
    result.dropped_missing_covariate = sum(c.n for c in cells if not c.complete)
    sizes: Counter[str] = Counter()
    for c in complete:
        sizes[c.product] += c.n
    result.too_few = sorted(p for p, n in sizes.items() if n < minimum)
    # The reference: the product with the most knees (ties by code, so the choice is stable).
    products = sorted((p for p, n in sizes.items() if n >= minimum), key=lambda p: (-sizes[p], p))
    used = [c for c in complete if c.product in products]
    n = result.n = sum(c.n for c in used)
    if len(products) < 2:
        result.reason = f"Fewer than two products with {minimum} or more knees scored at baseline and follow-up."
        return result
    indicators, z = _design(used, products)
    moments = _centred(np.array([c.moments() for c in used]))
    y = VARIABLES.index("y") + 1
    # X'X[j, k] = sum over cells of f_j f_k M[z_j, z_k]; X'y[j] = sum of f_j M[z_j, y]; y'y = sum of M[y, y].
    xtx = np.einsum("cj,ck,cjk->jk", indicators, indicators, moments[:, z][:, :, z])
    xty = np.einsum("cj,cj->j", indicators, moments[:, z, y])
    yty = moments[:, y, y].sum()
    p = len(z)
    df = n - p
    if df < 1 or np.linalg.matrix_rank(xtx) < p:
        result.reason = "Too few knees for the covariates, or covariates that do not vary: no adjusted estimate."
        return result
    inverse = np.linalg.inv(xtx)
    beta = inverse @ xty
    sigma2 = float(yty - 2 * beta @ xty + beta @ xtx @ beta) / df
    covariance = sigma2 * inverse
    t = t_975(df)
    names = dict(Product.choices)
    for i, product in enumerate(products):
        mine = [c for c in used if c.product == product]
        count = sum(c.n for c in mine)
        # The change y - b: its sum and its sum of squares from the cells' sums.
        total = sum(c.sums[("y",)] - c.sums[("b",)] for c in mine)
        squares = sum(c.sums[("y", "y")] - 2 * c.sums[("b", "y")] + c.sums[("b", "b")] for c in mine)
        raw = mean_ci(count, total, squares).as_dict()
        estimate = ProductEstimate(product, str(names.get(product, product)), count, raw, reference=i == 0)
        if i:
            se = float(np.sqrt(covariance[i, i]))
            estimate.difference = float(beta[i])
            estimate.ci_low, estimate.ci_high = estimate.difference - t * se, estimate.difference + t * se
        result.products.append(estimate)
    return result


def _cell_aggregates(_today) -> dict[str, Any]:
    """Per follow-up and measure (``{t}_{measure}__``): the knees scored at baseline and then, their count and
    the sums of ``VARIABLES`` and of ``PAIRS``."""
    out: dict[str, Any] = {}
    for tp in FOLLOW_UP_TIMEPOINTS:
        for m in OUTCOME_MEASURES:
            key = f"{SHORT[tp]}_{m.column}"
            baseline, follow_up = f"b_{m.column}", f"{SHORT[tp]}_{m.column}"
            values = {
                "b": F(baseline),
                "y": F(follow_up),
                "age": Cast("age_at_injection", FloatField()),
                "bmi": Cast("bmi", FloatField()),
            }
            scored = Q(**{f"{baseline}__isnull": False, f"{follow_up}__isnull": False})
            out[f"{key}__n"] = Count("pk", filter=scored)
            out |= {f"{key}__{v}": Sum(values[v], filter=scored) for v in VARIABLES}
            out |= {
                f"{key}__{v}_{w}": Sum(values[v] * values[w], filter=scored, output_field=FloatField())
                for v, w in PAIRS
            }
    return out


def _cell_grouping() -> dict[str, Any]:
    measured = Q(age_at_injection__isnull=False, bmi__isnull=False)
    return {
        "prod": F("product"),
        "kl": F("kl_grade"),
        "sx": F("sex"),
        "measured": Case(When(measured, then=Value(True)), default=Value(False), output_field=BooleanField()),
    }


def adjusted_comparisons(plans, *, minimum: int | None = None) -> list[dict[str, Any]]:
    """The adjusted comparison of products at every follow-up, for every outcome measure, over ``plans`` (a
    queryset of plans or of their ids). One aggregate query over their per-plan summaries."""
    minimum = disclosure.minimum() if minimum is None else minimum
    with aggregates.cohort_table(plans) as plan_ids:
        rows, _ = aggregates.grouped_rows("adjusted", _cell_grouping, _cell_aggregates, plan_ids, timezone.localdate())
    out = []
    for tp in FOLLOW_UP_TIMEPOINTS:
        for m in OUTCOME_MEASURES:
            key = f"{SHORT[tp]}_{m.column}"
            cells = [
                Cell(
                    r["prod"],
                    r["kl"],
                    r["sx"],
                    bool(r["measured"]) and _complete(r["kl"], 0, 0, r["sx"]),
                    r[f"{key}__n"],
                    {
                        **{(v,): r[f"{key}__{v}"] or 0.0 for v in VARIABLES},
                        **{(v, w): r[f"{key}__{v}_{w}"] or 0.0 for v, w in PAIRS},
                    },
                )
                for r in rows
                if r[f"{key}__n"]
            ]
            label = f"{m.label} ({m.reading})"
            out.append(fit(cells, minimum=minimum, timepoint=tp, measure=m.column, label=label).as_dict())
    return out


__all__ = [
    "COVARIATES",
    "NOTICE",
    "Cell",
    "Comparison",
    "Knee",
    "ProductEstimate",
    "adjusted_comparisons",
    "ancova",
    "cells_of",
    "fit",
]

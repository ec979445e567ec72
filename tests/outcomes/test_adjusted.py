"""The adjusted comparison of products (ANCOVA) against statsmodels' OLS, and its complete-case rules."""

import random

import numpy as np
import pytest
import statsmodels.api as sm

from outcomes.analysis.adjusted import NOTICE, Knee, adjusted_comparisons, ancova
from registry.models import TreatmentPlan
from tests.outcomes.analysis_data import make_plan


def random_knees(seed: int, sizes: dict[str, int]) -> list[Knee]:
    rng = random.Random(seed)
    effect = {"bmac": 8.0, "prp": 4.0, "ha": 0.0}
    knees = []
    for product, n in sizes.items():
        for _ in range(n):
            baseline = rng.uniform(20, 70)
            kl, age, bmi = rng.choice([1, 2, 3, 4]), rng.uniform(40, 85), rng.uniform(19, 38)
            sex = rng.choice(["female", "male"])
            follow = baseline * 0.6 + 25 + effect[product] - 3 * kl - 0.1 * age + rng.gauss(0, 8)
            knees.append(Knee(product, baseline, min(max(follow, 0), 100), kl, age, bmi, sex))
    return knees


def statsmodels_fit(knees: list[Knee], reference: str, products: list[str]):
    """The same model written out for statsmodels: product, KL grade and sex as treatment-coded indicators."""
    grades = sorted({k.kl_grade for k in knees})[1:]
    x = np.array(
        [
            [float(k.product == p) for p in products if p != reference]
            + [k.baseline]
            + [float(k.kl_grade == g) for g in grades]
            + [k.age, k.bmi, float(k.sex == "male")]
            for k in knees
        ]
    )
    return sm.OLS(np.array([k.follow_up for k in knees]), sm.add_constant(x, has_constant="add")).fit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adjusted_differences_match_statsmodels(seed):
    knees = random_knees(seed, {"ha": 40, "bmac": 25, "prp": 30})
    result = ancova(knees, minimum=10)
    by_product = {p.product: p for p in result.products}
    assert by_product["ha"].reference  # the most knees
    # Product columns in ancova's order: reference first, then by size (prp 30, bmac 25).
    order = [p.product for p in result.products]
    assert order == ["ha", "prp", "bmac"]
    fit = statsmodels_fit(knees, "ha", order)
    ci = fit.conf_int(0.05)  # one row [low, high] per parameter: 0 the intercept, 1 prp, 2 bmac
    assert by_product["prp"].difference == pytest.approx(fit.params[1], rel=1e-9)
    assert by_product["bmac"].difference == pytest.approx(fit.params[2], rel=1e-9)
    assert [by_product["prp"].ci_low, by_product["prp"].ci_high] == pytest.approx(list(ci[1]), rel=1e-6)
    assert [by_product["bmac"].ci_low, by_product["bmac"].ci_high] == pytest.approx(list(ci[2]), rel=1e-6)
    assert result.n == 95
    # Beside it, the raw mean change of the same knees.
    bmac = [k.follow_up - k.baseline for k in knees if k.product == "bmac"]
    assert by_product["bmac"].raw_change["mean"] == pytest.approx(sum(bmac) / len(bmac))


def test_complete_cases_only_and_the_dropped_are_counted():
    knees = random_knees(4, {"ha": 15, "prp": 15})
    knees += [
        Knee("ha", 50.0, 60.0, None, 60.0, 25.0, "female"),  # no KL grade
        Knee("ha", 50.0, 60.0, 2, 60.0, None, "female"),  # no BMI
        Knee("prp", 50.0, 60.0, 2, 60.0, 25.0, "unknown"),  # sex not recorded
        Knee("prp", 50.0, None, 2, 60.0, 25.0, "male"),  # no follow-up: not in the model, not "dropped"
    ]
    result = ancova(knees, minimum=10)
    assert (result.n, result.dropped_missing_covariate) == (30, 3)


def test_a_product_below_the_minimum_cell_size_is_left_out_and_named():
    knees = random_knees(5, {"ha": 20, "prp": 15, "bmac": 9})
    result = ancova(knees, minimum=10)
    assert result.too_few == ["bmac"]
    assert [p.product for p in result.products] == ["ha", "prp"]
    assert result.n == 35
    alone = ancova(random_knees(6, {"ha": 20, "prp": 9}), minimum=10)
    assert alone.products == []
    assert "Fewer than two products" in alone.reason


def test_covariates_that_do_not_vary_give_no_estimate_rather_than_a_wrong_one():
    knees = [Knee(p, 40.0 + i, 50.0 + i % 7, 2, 60.0, 25.0, "female") for i in range(12) for p in ("ha", "prp")]
    # Age and BMI constant: collinear with the intercept.
    assert ancova(knees, minimum=10).products == []


def test_adjusted_comparisons_are_one_aggregate_whatever_the_number_of_knees(clinic, clinician):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from outcomes.analysis import plan_outcomes

    def queries() -> int:
        plan_outcomes.refresh()
        with CaptureQueriesContext(connection) as captured:
            comparisons = adjusted_comparisons(TreatmentPlan.objects.all(), minimum=10)
        assert {c["timepoint"] for c in comparisons} == {"1m", "6m", "12m", "24m"}
        assert all(c["products"] == [] for c in comparisons)  # one product: nothing to compare
        return len(captured)

    scores = {"baseline": {"pain": 40, "adl": 50, "vas": 60, "oks": 20, "pga": 50}, "1m": None}
    make_plan(clinic, clinician, kl_grade=2, scores=scores)
    few = queries()
    for _ in range(4):
        make_plan(clinic, clinician, kl_grade=2, scores=scores)
    assert queries() == few
    assert "not a comparison of treatments" in NOTICE


def test_the_databases_cells_give_the_fit_of_the_knees_themselves(clinic, clinician):
    """The aggregate query's sufficient statistics against the same knees summed in Python (``ancova``)."""
    from outcomes.analysis import plan_outcomes
    from outcomes.models import PlanOutcome
    from tests.factories import PRP_PROTOCOL, PatientFactory

    rng = random.Random(7)
    for product, effect, extra in (("bmac", 9, {}), ("prp", 4, {"protocol": dict(PRP_PROTOCOL)})):
        for _ in range(12):
            baseline = rng.randint(20, 60)
            patient = PatientFactory(
                clinic=clinic, sex=rng.choice(["female", "male"]), year_of_birth=rng.randint(1945, 1980)
            )
            one_month = {"pain": min(100, baseline + effect + rng.randint(-8, 15)), "oks": rng.randint(10, 40)}
            make_plan(
                clinic,
                clinician,
                patient=patient,
                product=product,
                kl_grade=rng.choice([2, 3, 4]),
                bmi=f"{rng.uniform(20, 36):.1f}",
                **extra,
                scores={"baseline": {"pain": baseline, "oks": rng.randint(5, 30)}, "1m": one_month},
            )
    # One knee without BMI: counted as dropped by both.
    make_plan(clinic, clinician, kl_grade=2, bmi=None, bmi_status="not_measured",
              scores={"baseline": {"pain": 30}, "1m": {"pain": 45}})  # fmt: skip
    plan_outcomes.refresh()
    rows = PlanOutcome.objects.values_list("product", "b_koos_pain", "m1_koos_pain", "kl_grade", "age_at_injection",
                                           "bmi", "sex")  # fmt: skip
    knees = [Knee(p, b, y, kl, age, None if bmi is None else float(bmi), sex) for p, b, y, kl, age, bmi, sex in rows]
    expected = ancova(knees, minimum=5).as_dict()
    got = next(
        c for c in adjusted_comparisons(TreatmentPlan.objects.all(), minimum=5)
        if (c["timepoint"], c["measure"]) == ("1m", "koos_pain")
    )  # fmt: skip
    assert (got["n"], got["dropped_missing_covariate"]) == (expected["n"], expected["dropped_missing_covariate"])
    assert (got["n"], got["dropped_missing_covariate"]) == (24, 1)
    assert [p["product"] for p in got["products"]] == [p["product"] for p in expected["products"]]
    reference, other = got["products"]
    assert reference["reference"]
    assert reference["difference"] is None
    assert other["difference"] == pytest.approx(expected["products"][1]["difference"], rel=1e-9)
    assert [other["ci_low"], other["ci_high"]] == pytest.approx(
        [expected["products"][1]["ci_low"], expected["products"][1]["ci_high"]], rel=1e-9
    )
    for mine, theirs in zip(got["products"], expected["products"], strict=True):
        assert mine["raw_change"]["mean"] == pytest.approx(theirs["raw_change"]["mean"], rel=1e-12)
        assert mine["raw_change"]["sd"] == pytest.approx(theirs["raw_change"]["sd"], rel=1e-9)

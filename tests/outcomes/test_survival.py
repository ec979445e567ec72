"""The Kaplan-Meier estimator (outcomes.analysis.survival) against lifelines, the reference implementation:
survival, the exponential-Greenwood 95% interval and numbers at risk, on hand-made and random data with ties,
censoring at event times and a last observation that is an event."""

import random

import pytest
from lifelines import KaplanMeierFitter

from outcomes.analysis.survival import GRID_MONTHS, PlanRow, at_risk_at, curve_for, kaplan_meier, step_at

DATASETS = {
    "no censoring": ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]),
    "tied events": ([3, 3, 3, 6, 6, 9, 12, 12], [1, 1, 0, 1, 1, 0, 1, 0]),
    "censored at event times": ([2, 2, 2, 5, 5, 5, 5, 8, 8, 11], [1, 0, 0, 1, 0, 1, 0, 1, 0, 0]),
    "last is an event": ([1, 2, 2, 3, 4, 4, 5, 6], [0, 1, 0, 1, 1, 1, 0, 1]),
    "no events": ([0, 1.5, 7, 13, 24], [0, 0, 0, 0, 0]),
    "censored at 0": ([0, 0, 0.5, 6.1, 6.1, 12.2, 18.0, 25.3], [0, 0, 1, 1, 0, 0, 1, 0]),
    "event at 0": ([0, 0, 3, 4], [1, 0, 1, 0]),
}


def _random(seed: int, n: int):
    rng = random.Random(seed)
    # Months rounded to whole weeks of a month: plenty of ties, as real follow-up dates give.
    durations = [round(rng.uniform(0, 26) * 4) / 4 for _ in range(n)]
    events = [rng.random() < 0.3 for _ in range(n)]
    return durations, events


for _seed, _n in ((1, 30), (2, 120), (3, 400)):
    DATASETS[f"random {_n}"] = _random(_seed, _n)


def reference(durations, events):
    kmf = KaplanMeierFitter().fit(durations, [bool(e) for e in events])
    table = kmf.survival_function_.join(kmf.confidence_interval_)
    return kmf, {float(t): tuple(row) for t, row in table.iterrows()}


@pytest.mark.parametrize("name", DATASETS)
def test_survival_and_interval_match_lifelines_at_every_time(name):
    durations, events = DATASETS[name]
    _, expected = reference(durations, events)
    steps = kaplan_meier(durations, events)

    assert [s.time for s in steps] == sorted(expected)
    for step in steps:
        survival, lower, upper = expected[step.time]
        assert step.survival == pytest.approx(survival, abs=1e-12), step
        assert step.lower == pytest.approx(lower, abs=1e-9), step
        assert step.upper == pytest.approx(upper, abs=1e-9), step


@pytest.mark.parametrize("name", DATASETS)
def test_numbers_at_risk_match_lifelines(name):
    durations, events = DATASETS[name]
    kmf, _ = reference(durations, events)
    table = kmf.event_table
    steps = kaplan_meier(durations, events)
    for step in steps:
        if step.time in table.index:
            row = table.loc[step.time]
            assert (step.at_risk, step.events, step.censored) == (row["at_risk"], row["observed"], row["censored"])
    # At each grid time: lifelines' number at risk at the first time it observed at or after it (0 past the end).
    for months in GRID_MONTHS:
        later = table[table.index >= months]
        expected = int(later.iloc[0]["at_risk"]) if len(later) else 0
        assert at_risk_at(durations, months) == expected, months


@pytest.mark.parametrize("name", ["tied events", "random 120"])
def test_survival_between_steps_is_the_last_step(name):
    durations, events = DATASETS[name]
    kmf, _ = reference(durations, events)
    steps = kaplan_meier(durations, events)
    for months in (*GRID_MONTHS, 7.3, 100):
        assert step_at(steps, months).survival == pytest.approx(kmf.predict(months), abs=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier([-1, 2], [True, False])


def rows(durations, events):
    return [PlanRow(i, "prp", d, bool(e)) for i, (d, e) in enumerate(zip(durations, events, strict=True))]


def test_a_product_below_the_minimum_shows_nothing_but_its_count():
    curve = curve_for("prp", "PRP", rows([1, 2, 3], [1, 0, 0]), minimum=10)
    assert (curve.withheld, curve.plans, curve.steps, curve.grid) == (True, 3, [], [])


def test_grid_rows_with_a_handful_at_risk_are_withheld_but_zero_is_shown():
    # 12 plans: 12 at risk at 0 and 6 months, 10 at 12, 4 at 18 (withheld), none at 24.
    durations = [6.5] * 2 + [13.0] * 6 + [19.0] * 4
    events = [1, 0] + [0] * 6 + [1, 0, 0, 0]
    curve = curve_for("prp", "PRP", rows(durations, events), minimum=10)
    by_month = {g.months: g for g in curve.grid}
    assert [by_month[m].at_risk for m in GRID_MONTHS] == [12, 12, 10, None, 0]
    assert (by_month[18].survival, by_month[18].lower, by_month[18].upper) == (None, None, None)
    assert by_month[12].survival == pytest.approx(11 / 12)
    assert by_month[24].survival == pytest.approx(11 / 12 * 3 / 4)

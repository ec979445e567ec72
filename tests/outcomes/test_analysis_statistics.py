"""The summary's statistics against values worked out by hand on five plans.

plan  KL  baseline (pain adl vas oks pga)   1 month                    6 months
P1    2   40 50 70 20 60                    60 55 40 30 40             70 80 30 36 30
P2    2   50 60 50 25 50                    60 62 30 27 48             missed
P3    3   30 40 60 15 70                    18 40 85 14 75             open, past due
P4    3   missed                            70 70 20 40 20             scheduled
P5    3   60 65 40 30 40                    missed                     cancelled
"""

import datetime as dt
import math

import pytest
from django.core.cache import cache

from outcomes.analysis import disclosure, tables
from outcomes.analysis.stats import clopper_pearson, mean_ci, t_975, wilson
from outcomes.analysis.summary import outcomes_summary
from tests.outcomes.analysis_data import make_plan

TODAY = dt.date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def scores(pain, adl, vas, oks, pga):
    return {"pain": pain, "adl": adl, "vas": vas, "oks": oks, "pga": pga}


@pytest.fixture
def five_plans(clinic, clinician):
    make_plan(
        clinic,
        clinician,
        kl_grade=2,
        scores={
            "baseline": scores(40, 50, 70, 20, 60),
            "1m": scores(60, 55, 40, 30, 40),
            "6m": scores(70, 80, 30, 36, 30),
        },
    )
    make_plan(
        clinic,
        clinician,
        kl_grade=2,
        scores={"baseline": scores(50, 60, 50, 25, 50), "1m": scores(60, 62, 30, 27, 48)},
        statuses={"6m": "missed"},
    )
    make_plan(
        clinic,
        clinician,
        kl_grade=3,
        scores={"baseline": scores(30, 40, 60, 15, 70), "1m": scores(18, 40, 85, 14, 75)},
        statuses={"6m": "open"},
    )
    make_plan(
        clinic,
        clinician,
        kl_grade=3,
        scores={"1m": scores(70, 70, 20, 40, 20)},
        statuses={"baseline": "missed", "6m": "scheduled"},
    )
    make_plan(
        clinic,
        clinician,
        kl_grade=3,
        scores={"baseline": scores(60, 65, 40, 30, 40)},
        statuses={"1m": "missed", "6m": "cancelled"},
    )


def timepoint_row(summary, timepoint):
    return next(t for t in summary["timepoints"] if t["timepoint"] == timepoint)


def measure(summary, timepoint, key):
    return next(m for m in timepoint_row(summary, timepoint)["measures"] if m["measure"] == key)


def completion(summary, timepoint):
    return next(t for t in summary["completion"] if t["timepoint"] == timepoint)


def of(n, total, pct):
    """n of N as the summary gives it: its percentage and its Wilson interval (tests/outcomes/test_intervals.py)."""
    low, high = wilson(n, total) if total else (None, None)
    pct_low, pct_high = (None, None) if low is None else (pytest.approx(100 * low), pytest.approx(100 * high))
    return {"n": n, "N": total, "pct": pct, "ci_low": pct_low, "ci_high": pct_high}


def test_t_quantiles_match_published_values():
    assert t_975(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_975(10) == pytest.approx(2.2281, abs=1e-4)
    assert t_975(30) == pytest.approx(2.0423, abs=1e-4)
    # Beyond the table, the expansion: published 40, 60, 120 df values.
    assert t_975(40) == pytest.approx(2.021075, abs=1e-5)
    assert t_975(60) == pytest.approx(2.000298, abs=1e-5)
    assert t_975(120) == pytest.approx(1.979930, abs=1e-5)
    assert t_975(10**7) == pytest.approx(1.959964, abs=1e-5)


def test_mean_ci_from_sums():
    values = [60, 60, 18, 70]
    m = mean_ci(len(values), sum(values), sum(v * v for v in values))
    assert m.mean == 52
    assert m.sd == pytest.approx(math.sqrt(536))
    assert m.ci_low == pytest.approx(52 - 3.1824463 * math.sqrt(536) / 2)
    assert m.ci_high == pytest.approx(52 + 3.1824463 * math.sqrt(536) / 2)
    single = mean_ci(1, 7.0, 49.0)
    assert (single.mean, single.sd, single.ci_low) == (7.0, None, None)
    assert mean_ci(0, None, None).mean is None


def test_completion_rates_and_denominators(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    assert s["plans"] == 5
    baseline = completion(s, "baseline")
    assert (baseline["completed"], baseline["due"]) == (4, 5)
    assert baseline["completion"] == of(4, 5, 80.0)
    one = completion(s, "1m")
    assert one["completion"] == of(4, 5, 80.0)
    six = completion(s, "6m")
    assert (six["completed"], six["missed"], six["open_overdue"]) == (1, 1, 1)
    assert (six["not_yet_due"], six["cancelled"], six["plans"]) == (1, 1, 5)
    assert six["completion"]["n"] == 1
    assert six["completion"]["N"] == 3
    assert six["completion"]["pct"] == pytest.approx(100 / 3)


def test_open_follow_up_not_yet_due_is_not_in_the_denominator(five_plans, clinician):
    # On 1 Sept the 6-month follow-ups (due 2 Sept) are not yet due: P3's open one is pending, not lost.
    six = completion(outcomes_summary(clinician, {}, today=dt.date(2026, 9, 1)), "6m")
    assert (six["open_overdue"], six["not_yet_due"], six["completion"]["N"]) == (0, 2, 2)


def test_mean_scores_with_sd_and_ci(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    base = measure(s, "baseline", "koos_pain")["score"]
    assert base["n"] == 4
    assert base["mean"] == pytest.approx(45)
    assert base["sd"] == pytest.approx(12.909944, rel=1e-6)
    assert base["ci_low"] == pytest.approx(45 - 20.542648, rel=1e-5)
    assert base["ci_high"] == pytest.approx(45 + 20.542648, rel=1e-5)
    one = measure(s, "1m", "koos_pain")["score"]
    assert (one["n"], one["mean"]) == (4, pytest.approx(52))
    assert one["ci_high"] == pytest.approx(88.839296, rel=1e-5)
    assert measure(s, "6m", "oks_total")["score"]["n"] == 1
    assert measure(s, "6m", "oks_total")["score"]["ci_low"] is None  # one value: no CI


def test_change_from_baseline_pairs_each_plan_with_its_own_baseline(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    change = measure(s, "1m", "koos_pain")["change"]
    # P1 +20, P2 +10, P3 -12; P4 has no baseline, P5 no 1-month score.
    assert change["n"] == 3
    assert change["mean"] == pytest.approx(6)
    assert change["sd"] == pytest.approx(16.370706, rel=1e-6)
    assert change["ci_low"] == pytest.approx(6 - 40.667023, rel=1e-5)
    assert change["ci_high"] == pytest.approx(6 + 40.667023, rel=1e-5)
    vas = measure(s, "1m", "vas_pain")["change"]
    assert (vas["n"], vas["mean"]) == (3, pytest.approx(-25 / 3))
    assert measure(s, "6m", "koos_pain")["change"]["mean"] == pytest.approx(30)


def test_mcid_counts_in_the_direction_of_improvement(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    # KOOS Pain up by >= 11.3 (its own MIC): P1 (+20); P2's +10 falls short; P3 fell 12, not an improvement.
    assert measure(s, "1m", "koos_pain")["mcid"] | {} == {
        "n": 1,
        "N": 3,
        "pct": pytest.approx(100 / 3),
        "ci_low": pytest.approx(100 * wilson(1, 3)[0]),
        "ci_high": pytest.approx(100 * wilson(1, 3)[1]),
        "threshold": 11.3,
        "direction": "increase",
    }
    # KOOS ADL's MIC is 10.2: P1 +5, P2 +2, P3 0: none.
    assert (measure(s, "1m", "koos_adl")["mcid"]["n"], measure(s, "1m", "koos_adl")["mcid"]["threshold"]) == (0, 10.2)
    # VAS down by >= 20: P1 (-30) and P2 (exactly -20); P3 rose 25, a worsening, not counted.
    vas = measure(s, "1m", "vas_pain")["mcid"]
    assert (vas["n"], vas["N"], vas["direction"]) == (2, 3, "decrease")
    oks = measure(s, "1m", "oks_total")["mcid"]  # +10, +2, -1 against 7
    assert (oks["n"], oks["N"]) == (1, 3)


def test_omeract_oarsi_responders(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    # 1 month: P1 meets criterion B (pain and global by >= 20 % and >= 10); P2 only pain (exactly 10 = 20 %);
    # P3 worse; P4 undecidable (no baseline).
    assert timepoint_row(s, "1m")["responders"] == of(1, 3, pytest.approx(100 / 3))
    # 6 months: P1's pain falls 60 -> 30 (exactly 50 % and >= 20): criterion A.
    assert timepoint_row(s, "6m")["responders"] == of(1, 1, 100.0)
    assert timepoint_row(s, "baseline")["responders"] is None


def test_responders_by_kl_grade(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    by_kl = {g["kl_grade"]: {t["timepoint"]: t for t in g["timepoints"]} for g in s["responders_by_kl"]}
    assert by_kl[2]["1m"]["responders"] == of(1, 2, 50.0)
    assert by_kl[3]["1m"]["responders"] == of(0, 1, 0.0)
    assert by_kl[3]["6m"]["responders"] == of(0, 0, None)
    assert by_kl[2]["1m"]["mcid_koos_pain"] == of(1, 2, 50.0)  # P1 +20 reaches 11.3, P2 +10 does not


def test_baseline_scores_of_completers_and_lost(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    rows = {(r["timepoint"], r["measure"]): r for r in s["loss_to_follow_up"]["baseline_by_completion"]}
    one = rows[("1m", "koos_pain")]
    assert (one["completed"]["n"], one["completed"]["mean"]) == (3, pytest.approx(40))  # P1, P2, P3
    assert (one["lost"]["n"], one["lost"]["mean"]) == (1, pytest.approx(60))  # P5
    six = rows[("6m", "koos_pain")]
    assert (six["completed"]["n"], six["completed"]["mean"]) == (1, pytest.approx(40))  # P1
    assert (six["lost"]["n"], six["lost"]["mean"]) == (2, pytest.approx(40))  # P2 missed, P3 open past due
    assert six["lost"]["ci_high"] == pytest.approx(40 + 12.7062047 * 10, rel=1e-6)


def test_groups_split_the_same_numbers(five_plans, clinician):
    s = outcomes_summary(clinician, {"compare_by": "kl_grade"}, today=TODAY)
    groups = {g["label"]: g for g in s["groups"]}
    assert set(groups) == {"KL 2", "KL 3"}
    assert (groups["KL 2"]["plans"], groups["KL 3"]["plans"]) == (2, 3)
    kl2 = next(m for m in timepoint_row(groups["KL 2"], "1m")["measures"] if m["measure"] == "koos_pain")
    assert (kl2["change"]["n"], kl2["change"]["mean"]) == (2, pytest.approx(15))


def test_loss_to_follow_up_by_clinic_clinician_and_product(five_plans, clinician, clinic):
    s = outcomes_summary(clinician, {}, today=TODAY)
    loss = s["loss_to_follow_up"]
    assert [r["label"] for r in loss["by_clinic"]] == [clinic.name]
    assert [r["label"] for r in loss["by_clinician"]] == [clinician.username]
    assert [r["key"] for r in loss["by_product"]] == ["bmac"]
    six = next(t for t in loss["by_clinician"][0]["timepoints"] if t["timepoint"] == "6m")
    assert six["completion"] == of(1, 3, pytest.approx(100 / 3))


def test_products_without_adverse_events_show_zero_with_an_exact_upper_limit(five_plans, clinician):
    from registry.models import Injection

    given = Injection.objects.filter(status="given").count()
    ae = outcomes_summary(clinician, {}, today=TODAY)["adverse_events"]
    assert [(r["product"], r["seriousness"], r["events"], r["injections"]) for r in ae["rows"]] == [
        ("bmac", "Non-serious", 0, given),
        ("bmac", "Serious", 0, given),
    ]
    for row in ae["rows"]:
        assert (row["per_100"], row["ci_low"]) == (0.0, 0.0)
        assert row["ci_high"] == pytest.approx(100 * (1 - 0.025 ** (1 / given)))


def test_adverse_events_per_100_injections_by_product_and_seriousness(five_plans, clinician):
    from registry.models import Injection
    from safety.services import adverse_event_record
    from tests.safety.ae_support import SERIOUS, event_data

    injections = list(Injection.objects.filter(status="given").order_by("id"))
    given = len(injections)
    adverse_event_record(by=clinician, data=event_data(injections[0], onset_on=injections[0].injected_on))
    adverse_event_record(by=clinician, data=event_data(injections[1], onset_on=injections[1].injected_on, **SERIOUS))
    ae = outcomes_summary(clinician, {}, today=TODAY)["adverse_events"]
    assert ae["available"] is True
    rows = {(r["product"], r["seriousness"]): r for r in ae["rows"]}
    assert rows[("bmac", "Non-serious")]["events"] == 1
    assert rows[("bmac", "Serious")]["events"] == 1
    assert rows[("bmac", "Serious")]["injections"] == given
    assert rows[("bmac", "Serious")]["per_100"] == pytest.approx(100 / given)
    # 1 of n: the exact lower limit solves (1 - p)^n = 0.975; the upper one is the bisection's, checked elsewhere.
    assert rows[("bmac", "Serious")]["ci_low"] == pytest.approx(100 * (1 - 0.975 ** (1 / given)))
    assert rows[("bmac", "Serious")]["ci_high"] == pytest.approx(100 * clopper_pearson(1, given)[1])


# --- PASS, missing as non-responder, the same knees (issue 15) --------------------------------------------------
# Due at 1 month: P1-P4 completed, P5 missed = 5; at 6 months: P1 completed, P2 missed, P3 open past due = 3.


def test_pass_shares_against_hand_counts(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    # VAS pain at or below 32.3 mm at 1 month: P2 (30) and P4 (20), of the 4 scored; P1's 40 is not.
    vas = measure(s, "1m", "vas_pain")
    assert vas["pass"] | {} == {**of(2, 4, 50.0), "threshold": 32.3, "direction": "decrease"}
    assert vas["pass_all_due"] == of(2, 5, 40.0)  # the same 2 of the 5 due
    # OKS at or above 37 at 1 month: P4 (40) only; at 6 months P1's 36 is one short.
    assert measure(s, "1m", "oks_total")["pass"]["n"] == 1
    assert measure(s, "6m", "oks_total")["pass"] | {} == {**of(0, 1, 0.0), "threshold": 37.0, "direction": "increase"}
    assert measure(s, "6m", "vas_pain")["pass_all_due"] == of(1, 3, pytest.approx(100 / 3))
    # The reference has no KOOS Sport/Rec PASS: none is made up.
    assert measure(s, "1m", "koos_sport_rec")["pass"] is None
    assert measure(s, "baseline", "vas_pain")["pass"] is None


def test_pass_boundary_is_inclusive(clinic, clinician):
    # Exactly at the threshold counts (KOOS Pain 84.5 at or above; VAS 32.3 at or below); a hair beyond does not.
    for pain, vas in ((84.5, 32.3), (84.4, 32.4)):
        make_plan(
            clinic,
            clinician,
            kl_grade=2,
            scores={"baseline": scores(40, 50, 70, 20, 60), "1m": scores(pain, 50, vas, 20, 50)},
        )
    s = outcomes_summary(clinician, {}, today=TODAY)
    assert measure(s, "1m", "koos_pain")["pass"]["n"] == 1
    assert measure(s, "1m", "vas_pain")["pass"]["n"] == 1


def test_missing_as_non_responder_beside_every_complete_case_share(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    one, six = timepoint_row(s, "1m"), timepoint_row(s, "6m")
    assert (one["due"], six["due"]) == (5, 3)
    assert one["responders_all_due"] == of(1, 5, 20.0)  # complete case: 1 of 3
    assert six["responders_all_due"] == of(1, 3, pytest.approx(100 / 3))  # complete case: 1 of 1
    assert measure(s, "1m", "koos_pain")["mcid_all_due"] == of(1, 5, 20.0)
    assert measure(s, "1m", "vas_pain")["mcid_all_due"] == of(2, 5, 40.0)
    by_kl = {g["kl_grade"]: {t["timepoint"]: t for t in g["timepoints"]} for g in s["responders_by_kl"]}
    assert by_kl[3]["1m"]["responders_all_due"] == of(0, 3, 0.0)  # P3, P4 answered, P5 missed
    assert by_kl[2]["1m"]["mcid_koos_pain_all_due"] == of(1, 2, 50.0)
    # The page states which is which.
    assert "non-responder" in s["definitions"]["all_due"]


def test_same_knees_at_every_timepoint(five_plans, clinician):
    s = outcomes_summary(clinician, {}, today=TODAY)
    # Only P1 has KOOS Pain at baseline, 1 and 6 months: the same-knees line is P1's, +20 then +30.
    one, six = measure(s, "1m", "koos_pain"), measure(s, "6m", "koos_pain")
    assert (one["same_knees"]["n"], one["same_knees"]["mean"]) == (1, pytest.approx(20))
    assert (six["same_knees"]["n"], six["same_knees"]["mean"]) == (1, pytest.approx(30))
    assert (one["change"]["n"], one["change"]["mean"]) == (3, pytest.approx(6))  # all available: other patients
    chart = tables.chart_data(s)["change"]
    group = chart["groups"][0]
    # n stated at every point, baseline too; nobody answered at 12 or 24 months yet.
    assert [p["n"] for p in group["same"]["koos_pain"]] == [1, 1, 1, 0, 0]
    assert [p["mean"] for p in group["same"]["koos_pain"]][:3] == [0.0, pytest.approx(20), pytest.approx(30)]
    assert [p["n"] for p in group["series"]["koos_pain"]] == [4, 3, 1, 0, 0]  # nobody at 12 or 24 months yet
    assert [k["label"] for k in chart["knees"]][1] == "All available (different patients at each timepoint)"


def test_new_shares_are_suppressed_with_their_counts(five_plans, clinician):
    exact = outcomes_summary(clinician, {}, today=TODAY)
    protected = disclosure.protect(exact, k=3)
    vas = measure(protected, "1m", "vas_pain")
    # 2 knees in PASS: withheld in both shares, with the percentage and interval that would give it back.
    for share in (vas["pass"], vas["pass_all_due"]):
        assert [share[k] for k in ("n", "pct", "ci_low", "ci_high")] == [None] * 4
        assert "n" in share["suppressed"]
    assert vas["pass_all_due"]["N"] in (5, None)
    same = measure(protected, "1m", "koos_pain")["same_knees"]
    assert (same["n"], same["mean"]) == (None, None)  # one knee

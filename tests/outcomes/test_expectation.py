"""Knees like mine (outcomes.analysis.expectation): every figure against a hand computation, the comparable-knee
search and its widening, the small-number rule at its boundaries (9, 10, a complement of 9) and the rule that no
withheld number can be worked out by subtraction, the same wording for every option, a constant number of queries,
the reading grade of the patient's lines, the clinician's partial, and what each role's cohort lets it see."""

import datetime as dt
import math
import re
import statistics

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from outcomes.analysis import plan_outcomes
from outcomes.analysis.cohort import cohort
from outcomes.analysis.expectation import KneeProfile, expectation, minimum, sentences
from outcomes.analysis.stats import T_975, clopper_pearson
from outcomes.models import FurtherTreatment
from registry.choices import Role
from registry.models import Injection, Membership, TreatmentPlan
from tests.outcomes.analysis_data import bulk_pairs

TODAY = dt.date(2026, 12, 6)
PROFILE = KneeProfile(kl_grade=2, age=66, product="bmac")
Z = 1.959963984540054

BEFORE = {"pain": 40.0, "adl": 40.0, "pga": 60.0, "oks": 20.0}


def improved(change: float) -> tuple[dict, dict]:
    """KOOS Pain up by ``change`` (at least the MCID 11.3), OKS +10 (MCID 7), ADL +20 and the global 60 -> 30: an
    OMERACT-OARSI responder (moderate pain and function improvement, at least 20% and 10 points each)."""
    return BEFORE, {"pain": 40.0 + change, "adl": 60.0, "pga": 30.0, "oks": 30.0}


def same_or_worse(change: float) -> tuple[dict, dict]:
    """KOOS Pain changed by ``change`` (0 or less), OKS -2, ADL and global unchanged: not a responder."""
    return BEFORE, {"pain": 40.0 + change, "adl": 40.0, "pga": 60.0, "oks": 18.0}


def lost() -> tuple[dict, None]:
    return BEFORE, None  # due at 6 months, never answered (missed)


def knees(clinic, clinician, pairs, **kwargs) -> list[int]:
    return bulk_pairs(clinic, clinician, pairs, timepoint="6m", **kwargs)


def result_for(user, profile=PROFILE, **kwargs) -> dict:
    return expectation(cohort(user), profile, today=TODAY, **kwargs)


def only(result) -> dict:
    [option] = result["options"]
    return option


def measure(option, name) -> dict:
    return next(m for m in option["measures"] if m["measure"] == name)


def wilson(n, total):
    """The Wilson score interval written out (Newcombe 1998, method 3), in percent."""
    p = n / total
    centre = (p + Z**2 / (2 * total)) / (1 + Z**2 / total)
    half = Z * math.sqrt(p * (1 - p) / total + Z**2 / (4 * total**2)) / (1 + Z**2 / total)
    return 100 * max(centre - half, 0.0), 100 * min(centre + half, 1.0)


def assert_share(figure, n, total):
    low, high = wilson(n, total)
    assert (figure["n"], figure["N"]) == (n, total)
    assert figure["pct"] == pytest.approx(100 * n / total)
    assert figure["ci_low"] == pytest.approx(low, abs=1e-9)
    assert figure["ci_high"] == pytest.approx(high, abs=1e-9)
    assert (figure["n_text"], figure["N_text"], figure["suppressed"]) == (str(n), str(total), [])


def assert_mean(figure, values):
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = T_975[len(values) - 1] * sd / math.sqrt(len(values))
    assert figure["n"] == len(values)
    assert figure["mean"] == pytest.approx(mean)
    assert figure["sd"] == pytest.approx(sd)
    assert (figure["ci_low"], figure["ci_high"]) == (pytest.approx(mean - half), pytest.approx(mean + half))


def further(plan_ids, kind="steroid_injection"):
    for plan in TreatmentPlan.objects.filter(pk__in=plan_ids).select_related("patient"):
        FurtherTreatment.objects.create(
            patient=plan.patient, plan=plan, knee=plan.knee, kind=kind, month=dt.date(2026, 6, 1),
            reported_by_patient=True,
        )  # fmt: skip


def adverse_events(clinician, plan_ids, **overrides):
    from safety.services import adverse_event_record
    from tests.safety.ae_support import event_data

    for injection in Injection.objects.filter(plan_id__in=plan_ids).select_related("patient"):
        adverse_event_record(by=clinician, data=event_data(injection, onset_on=injection.injected_on, **overrides))


# --- Every figure against a hand computation -------------------------------------------------------------------

# 12 knees improved (KOOS Pain +12 to +23), 10 the same or worse (0 to -9), 10 never answered: 32 due at 6 months.
GAINS = [12.0 + i for i in range(12)]
LOSSES = [-float(i) for i in range(10)]


@pytest.fixture
def registry(clinic, clinician):
    better = knees(clinic, clinician, [improved(c) for c in GAINS])
    worse = knees(clinic, clinician, [same_or_worse(c) for c in LOSSES])
    missing = knees(clinic, clinician, [lost() for _ in range(10)])
    further(worse)  # 10 knees went on to a steroid injection
    adverse_events(clinician, better[:10])  # 10 non-serious events, one per injection
    return better, worse, missing


def test_every_figure_matches_the_hand_computation(registry, clinician):
    option = only(result_for(clinician))
    assert (option["product"], option["enough"], option["steps"], option["widened"]) == ("bmac", True, [], [])
    assert option["due"] | {} == {"n": 32, "n_text": "32", "suppressed": []}
    assert_share(option["heard_back"], 22, 32)  # 68.75%: no caution below 60%
    assert option["caution"] is None

    pain, oks = measure(option, "koos.pain"), measure(option, "oks.total")
    assert (pain["mcid"], oks["mcid"]) == (11.3, 7.0)
    assert pain["compared"]["n"] == oks["compared"]["n"] == 22
    assert_share(pain["improved"], 12, 22)  # +12 to +23, all at least 11.3
    assert_share(pain["same_or_worse"], 10, 22)  # 0 to -9
    assert_mean(pain["change"], GAINS + LOSSES)  # 165 / 22 = 7.5
    assert pain["change"]["mean"] == pytest.approx(7.5)
    assert_share(oks["improved"], 12, 22)  # +10
    assert_share(oks["same_or_worse"], 10, 22)  # -2
    assert_mean(oks["change"], [10.0] * 12 + [-2.0] * 10)
    assert_share(option["responders"], 12, 22)

    # Adverse events per 100 injections: 10 of 32, exact intervals; no serious event is 0 with its upper limit.
    rows = {r["seriousness"]: r for r in option["adverse_events"]["rows"]}
    low, high = clopper_pearson(10, 32)
    assert rows["Non-serious"] | {} == {
        "seriousness": "Non-serious", "events": 10, "injections": 32, "per_100": 31.25,
        "ci_low": pytest.approx(100 * low), "ci_high": pytest.approx(100 * high),
        "events_text": "10", "injections_text": "32", "suppressed": [],
    }  # fmt: skip
    assert (rows["Serious"]["events"], rows["Serious"]["per_100"], rows["Serious"]["ci_low"]) == (0, 0.0, 0.0)
    assert rows["Serious"]["ci_high"] == pytest.approx(100 * (1 - 0.025 ** (1 / 32)))

    # Further treatment: 10 of the 32 knees, all a steroid injection.
    assert_share(option["further_treatment"]["any"], 10, 32)
    assert [(k["kind"], k["knees"], k["knees_text"]) for k in option["further_treatment"]["kinds"]] == [
        ("steroid_injection", 10, "10")
    ]

    assert option["group"] | {} == {
        "product": "bmac", "kl_band": "early", "age_band": "60-69", "kl_band_label": "KL grade 0-2 (early)",
        "age_band_label": "aged 60-69", "clinics": 1, "first_month": "2026-03", "last_month": "2026-03",
        "period": "March 2026",
    }  # fmt: skip


def test_the_result_names_its_date_timepoint_and_reference_group(registry, clinician):
    result = result_for(clinician)
    assert (result["as_of"], result["timepoint"], result["timepoint_label"], result["minimum"]) == (
        "2026-12-06", "6m", "6 months", 10,
    )  # fmt: skip
    assert result["profile"] == {
        "kl_grade": 2, "kl_band": "early", "age": 66, "age_band": "60-69", "product": "bmac",
    }  # fmt: skip
    assert "no figures for care without an injection" in result["without_injection"]


def test_twelve_knees_all_improved(clinic, clinician):
    """The smallest registry that shows figures with nothing withheld: 12 of 12 improved, 0 the same or worse."""
    knees(clinic, clinician, [improved(15.0 + i) for i in range(12)])
    option = only(result_for(clinician))
    pain = measure(option, "koos.pain")
    assert_share(option["heard_back"], 12, 12)
    assert_share(pain["improved"], 12, 12)
    assert pain["improved"]["ci_high"] == 100.0
    assert pain["improved"]["ci_low"] == pytest.approx(100 * 12 / (12 + Z**2))  # Wilson at n = N
    assert_share(pain["same_or_worse"], 0, 12)  # a zero describes nobody: shown
    assert_mean(pain["change"], [15.0 + i for i in range(12)])


def test_a_completion_below_60_percent_carries_the_caution(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(11)] + [lost() for _ in range(10)])  # 11 of 21: 52%
    option = only(result_for(clinician))
    assert option["heard_back"]["pct"] == pytest.approx(100 * 11 / 21)
    assert "People who answer may differ from those who do not" in option["caution"]


def test_exactly_at_the_mcid_counts_as_improved(clinic, clinician):
    knees(clinic, clinician, [improved(11.3) for _ in range(10)] + [same_or_worse(0.0) for _ in range(10)])
    pain = measure(only(result_for(clinician)), "koos.pain")
    assert (pain["improved"]["n"], pain["same_or_worse"]["n"]) == (10, 10)


# --- Comparable knees and widening ------------------------------------------------------------------------------


def test_ten_knees_of_the_same_band_and_age_need_no_widening(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(10)], kl_grade=1, age=60)
    knees(clinic, clinician, [improved(20.0) for _ in range(20)], kl_grade=3, age=66)  # another KL band: not used
    knees(clinic, clinician, [improved(20.0) for _ in range(20)], kl_grade=2, age=70)  # another age band: not used
    option = only(result_for(clinician))
    assert (option["enough"], option["steps"], option["due"]["n"]) == (True, [], 10)


def test_too_few_of_the_age_band_drops_the_age_and_says_so(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(9)], kl_grade=2, age=66)
    knees(clinic, clinician, [improved(20.0)], kl_grade=0, age=45)
    knees(clinic, clinician, [improved(20.0) for _ in range(5)], kl_grade=4, age=66)  # KL 3-4: still not used
    option = only(result_for(clinician))
    assert option["steps"] == ["No age limit: too few knees aged 60-69."]
    assert option["widened"] == ["any age"]
    assert option["due"]["n"] == 10
    assert (option["group"]["kl_band"], option["group"]["age_band"], option["group"]["age_band_label"]) == (
        "early", None, "any age",
    )  # fmt: skip


def test_then_the_kl_band_and_says_so(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(9)], kl_grade=2, age=66)
    knees(clinic, clinician, [improved(20.0)], kl_grade=4, age=81)
    option = only(result_for(clinician))
    assert option["steps"] == [
        "No age limit: too few knees aged 60-69.",
        "All KL grades: too few knees with KL grade 0-2 (early).",
    ]
    assert (option["enough"], option["due"]["n"], option["group"]["kl_band_label"]) == (True, 10, "any KL grade")


def test_nine_knees_are_not_enough_data_and_show_no_number(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(9)])
    knees(clinic, clinician, [improved(20.0) for _ in range(30)], product="prp")  # another product never helps
    option = only(result_for(clinician, options=["bmac"]))
    assert option["enough"] is False
    assert option["message"].startswith("Not enough data in this registry")
    assert len(option["steps"]) == 2
    assert set(option) == {"product", "label", "name", "enough", "steps", "widened", "message"}  # no figure at all


def test_knees_not_yet_due_do_not_count(clinic, clinician):
    # 10 knees whose 6-month follow-up is still weeks away on the day: not due, not in any denominator.
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(10)])
    from outcomes.models import FollowUp

    day = dt.date(2027, 1, 5)
    FollowUp.objects.filter(plan_id__in=ids, timepoint="6m").update(
        status="scheduled", opens_on=day, due_on=day, closes_on=day
    )
    assert only(result_for(clinician))["enough"] is False


def test_a_profile_without_age_or_grade_is_not_narrowed_by_it(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(5)], kl_grade=1, age=45)
    knees(clinic, clinician, [improved(20.0) for _ in range(5)], kl_grade=4, age=81)
    option = only(result_for(clinician, KneeProfile(kl_grade=None, age=None, product="bmac")))
    assert (option["enough"], option["steps"], option["due"]["n"]) == (True, [], 10)


# --- Small numbers ----------------------------------------------------------------------------------------------


def split(clinic, clinician, better: int, worse: int, missing: int = 0):
    knees(
        clinic, clinician,
        [improved(20.0) for _ in range(better)] + [same_or_worse(-5.0) for _ in range(worse)]
        + [lost() for _ in range(missing)],
    )  # fmt: skip


def test_nine_is_shown_as_fewer_than_ten_and_its_complement_is_not_exact(clinic, clinician):
    split(clinic, clinician, 9, 11)
    pain = measure(only(result_for(clinician)), "koos.pain")
    assert (pain["improved"]["n"], pain["improved"]["pct"], pain["improved"]["ci_low"]) == (None, None, None)
    assert pain["improved"]["n_text"] == "fewer than 10"
    # 20 compared - 11 the same or worse would give the 9 away: withheld too, never exact.
    assert (pain["same_or_worse"]["n"], pain["same_or_worse"]["n_text"]) == (None, "withheld")
    assert pain["compared"]["n"] == 20
    assert pain["change"]["mean"] is not None  # 20 knees: the mean describes enough


def test_ten_is_shown(clinic, clinician):
    split(clinic, clinician, 10, 10)
    pain = measure(only(result_for(clinician)), "koos.pain")
    assert_share(pain["improved"], 10, 20)
    assert_share(pain["same_or_worse"], 10, 20)


def test_a_complement_of_nine_withholds_the_ten_or_more_beside_it(clinic, clinician):
    split(clinic, clinician, 11, 9)
    pain = measure(only(result_for(clinician)), "koos.pain")
    assert (pain["same_or_worse"]["n"], pain["same_or_worse"]["n_text"]) == (None, "fewer than 10")
    assert (pain["improved"]["n"], pain["improved"]["n_text"], pain["improved"]["pct"]) == (None, "withheld", None)


def test_nine_not_heard_back_gives_the_number_treated_as_a_range(clinic, clinician):
    split(clinic, clinician, 10, 10, missing=9)
    option = only(result_for(clinician))
    # 29 due: printed with 20 heard back it would give the 9 away. The outcome figures over the 20 stay.
    assert option["due"]["n"] is None
    assert option["due"]["n_text"] == option["heard_back"]["N_text"] == "21 to 29"
    assert (option["heard_back"]["n_text"], option["heard_back"]["pct"]) == ("20", None)
    assert_share(measure(option, "koos.pain")["improved"], 10, 20)
    assert option["further_treatment"]["any"]["N_text"] == "21 to 29"


def test_a_few_knees_heard_back_without_a_baseline_withhold_the_number_compared(clinic, clinician):
    # 20 compared and 3 heard back without a baseline: 23 - 20 would give the 3 away.
    split(clinic, clinician, 10, 10)
    knees(clinic, clinician, [(None, improved(20.0)[1]) for _ in range(3)])
    option = only(result_for(clinician))
    assert option["heard_back"]["n"] == 23
    pain = measure(option, "koos.pain")
    assert (pain["compared"]["n"], pain["compared"]["n_text"]) == (None, "withheld")
    assert (pain["improved"]["N"], pain["improved"]["pct"], pain["same_or_worse"]["pct"]) == (None, None, None)
    # 10 improved + 10 the same or worse (none in between) would give the 20 back: one of them is withheld too.
    assert sorted([pain["improved"]["n_text"], pain["same_or_worse"]["n_text"]]) == ["10", "withheld"]
    assert pain["change"]["mean"] is None
    assert "To keep people private, we do not show how the pain score changed." in sentences(
        {**result_for(clinician), "options": [option]}
    )


def test_fewer_than_ten_heard_back_withholds_every_outcome_figure(clinic, clinician):
    split(clinic, clinician, 5, 4, missing=11)
    option = only(result_for(clinician))
    assert (option["due"]["n_text"], option["heard_back"]["n_text"]) == ("20", "fewer than 10")
    for m in option["measures"]:
        assert m["compared"]["n_text"] == "fewer than 10"
        assert (m["improved"]["n"], m["improved"]["N"], m["same_or_worse"]["n"]) == (None, None, None)
        assert (m["change"]["mean"], m["change"]["sd"], m["change"]["ci_low"]) == (None, None, None)
    assert (option["responders"]["n"], option["responders"]["N"]) == (None, None)
    assert "That is too few to say how they did." in sentences({**result_for(clinician), "options": [option]})


def test_a_kind_of_further_treatment_cannot_be_worked_out_from_the_others(clinic, clinician):
    # 30 due: 11 went on to another treatment, 10 a steroid injection and 1 a knee replacement. The 1 is fewer than
    # 10; printing the 10 and the 11 would give it away (a reader may guess no knee had both), so the 10 is withheld.
    better = knees(clinic, clinician, [improved(20.0) for _ in range(10)])
    worse = knees(clinic, clinician, [same_or_worse(-5.0) for _ in range(10)])
    knees(clinic, clinician, [lost() for _ in range(10)])
    further(better)
    further(worse[:1], kind="total_knee_replacement")
    ft = only(result_for(clinician))["further_treatment"]
    assert (ft["any"]["n"], ft["any"]["n_text"]) == (11, "11")
    kinds = {k["kind"]: k for k in ft["kinds"]}
    assert (kinds["total_knee_replacement"]["knees"], kinds["total_knee_replacement"]["knees_text"]) == (
        None, "fewer than 10",
    )  # fmt: skip
    assert (kinds["steroid_injection"]["knees"], kinds["steroid_injection"]["knees_text"]) == (None, "withheld")


def test_a_few_adverse_events_are_not_shown_as_a_rate(clinic, clinician):
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(20)])
    adverse_events(clinician, ids[:3])
    rows = {r["seriousness"]: r for r in only(result_for(clinician))["adverse_events"]["rows"]}
    assert rows["Non-serious"] | {} == {
        "seriousness": "Non-serious", "events": None, "injections": 20, "per_100": None, "ci_low": None,
        "ci_high": None, "events_text": "fewer than 10", "injections_text": "20",
        "suppressed": ["ci_high", "ci_low", "events", "per_100"],
    }  # fmt: skip
    assert (rows["Serious"]["events_text"], rows["Serious"]["per_100"]) == ("0", 0.0)


# --- The minimum ------------------------------------------------------------------------------------------------


def test_the_minimum_may_be_raised_and_never_lowered(settings):
    assert minimum() == 10
    settings.EXPECTATION_MIN_KNEES = 5
    assert minimum() == 10  # lower than the floor: ignored
    settings.EXPECTATION_MIN_KNEES = 15
    assert minimum() == 15
    assert minimum(12) == 15
    assert minimum(20) == 20
    settings.EXPECTATION_MIN_KNEES = 11
    settings.DASHBOARD_MIN_GROUP_SIZE = 12  # the exports' minimum is a floor too
    assert minimum() == 12
    settings.EXPECTATION_MIN_KNEES = "ten"
    with pytest.raises(ValueError, match="whole number"):
        minimum()


def test_a_raised_minimum_applies_to_groups_and_figures(clinic, clinician, settings):
    split(clinic, clinician, 11, 10)
    settings.EXPECTATION_MIN_KNEES = 5
    assert only(result_for(clinician))["enough"] is True
    assert only(result_for(clinician, minimum=3))["enough"] is True  # an argument cannot lower it either
    settings.EXPECTATION_MIN_KNEES = 11
    option = only(result_for(clinician))
    assert measure(option, "koos.pain")["same_or_worse"]["n_text"] == "fewer than 11"
    settings.EXPECTATION_MIN_KNEES = 22
    option = only(result_for(clinician))
    assert option["enough"] is False
    assert "fewer than 22 knees" in option["message"]


# --- Options side by side ---------------------------------------------------------------------------------------


@pytest.fixture
def two_products(clinic, clinician):
    for product in ("bmac", "prp"):
        knees(
            clinic, clinician, [improved(20.0) for _ in range(12)] + [same_or_worse(-5.0) for _ in range(10)],
            product=product,
        )  # fmt: skip
    knees(clinic, clinician, [improved(20.0) for _ in range(3)], product="ha")


def test_options_default_to_the_profile_product_then_every_other_product(two_products, clinician):
    result = result_for(clinician, KneeProfile(kl_grade=2, age=66, product="prp"))
    assert [o["product"] for o in result["options"]] == ["prp", "bmac", "ha"]
    prp, bmac, ha = result["options"]
    assert (prp["enough"], bmac["enough"], ha["enough"]) == (True, True, False)
    # The same denominators and timepoint for each.
    assert prp["due"]["n"] == bmac["due"]["n"] == 22
    assert measure(prp, "koos.pain")["improved"]["N"] == measure(bmac, "koos.pain")["improved"]["N"] == 22
    assert [o["product"] for o in result_for(clinician, options=["ha"])["options"]] == ["ha"]


def test_every_option_is_worded_the_same(two_products, clinician):
    result = result_for(clinician)
    bmac, prp = (o for o in result["options"] if o["enough"])

    def lines(option):
        text = sentences({**result, "options": [option]})
        return [line.replace(option["name"], "PRODUCT") for line in text]

    assert lines(bmac) == lines(prp)
    assert "Of 22 knees like yours treated with PRODUCT, we heard back from 22 at 6 months." in lines(bmac)
    assert any("12 of those 22 (55%, likely between" in line for line in lines(bmac))


def test_bad_input_is_refused_with_a_clear_error(clinician):
    plans = cohort(clinician)
    for profile, kwargs, message in (
        (PROFILE, {"timepoint": "3m"}, "timepoint must be one of"),
        (PROFILE, {"timepoint": "baseline"}, "timepoint must be one of"),
        (KneeProfile(kl_grade=5, age=66, product="bmac"), {}, "KL grade must be 0 to 4"),
        (KneeProfile(kl_grade=2, age=-1, product="bmac"), {}, "age must be"),
        (KneeProfile(kl_grade=2, age=66, product="aspirin"), {}, "unknown product"),
        (PROFILE, {"options": ["bmac", "aspirin"]}, "unknown product"),
    ):
        with pytest.raises(ValueError, match=message):
            expectation(plans, profile, today=TODAY, **kwargs)


# --- Queries ----------------------------------------------------------------------------------------------------


def queries_for(clinician) -> int:
    plan_outcomes.refresh()
    plans = cohort(clinician)  # the reader's scope is the caller's (it asks once whether they administer)
    with CaptureQueriesContext(connection) as captured:
        only(expectation(plans, PROFILE, today=TODAY))
    return len(captured.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_knees(clinic, clinician):
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(12)])
    further(ids[:2])
    small = queries_for(clinician)
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(18)])
    further(ids)
    adverse_events(clinician, ids[:2])
    assert queries_for(clinician) == small
    # The refresh check; the cohort's and the reference groups' temporary tables (with their savepoints and
    # planner settings); the knees due per level; the groups' figures; further treatment and the two of adverse
    # events, for every option at once.
    assert small <= 22


def test_the_number_of_queries_does_not_grow_with_the_options(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(12)], product="prp")
    knees(clinic, clinician, [improved(20.0) for _ in range(12)])
    plan_outcomes.refresh()
    plans = cohort(clinician)
    counted = []
    for options in (["bmac"], ["bmac", "prp", "ha"]):
        with CaptureQueriesContext(connection) as captured:
            result = expectation(plans, PROFILE, options=options, today=TODAY)
        counted.append(len(captured.captured_queries))
    assert [o["enough"] for o in result["options"]] == [True, True, False]
    assert counted[0] == counted[1]


# --- Plain words ------------------------------------------------------------------------------------------------


def syllables(word: str) -> int:
    """Vowel groups, less a silent final e: the usual heuristic (a number counts as one)."""
    word = word.lower()
    groups = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 words per sentence + 11.8 syllables per word - 15.59."""
    sentence_count = len(re.findall(r"[.!?](?=\s|$)", text))
    words = re.findall(r"[A-Za-z0-9%'+-]+", text)
    return 0.39 * len(words) / sentence_count + 11.8 * sum(map(syllables, words)) / len(words) - 15.59


def test_the_grade_formula_reads_a_known_text():
    assert grade("The cat sat on the mat.") == pytest.approx(0.39 * 6 + 11.8 - 15.59)


def test_a_patient_can_read_the_lines(registry, clinician):
    text = " ".join(sentences(result_for(clinician)))
    assert grade(text) <= 8, text
    assert "Of 32 knees like yours treated with bone marrow cells (BMAC), we heard back from 22 at 6 months." in text
    assert "12 of those 22 (55%, likely between 35% and 73%) had clearly less pain at 6 months." in text
    assert "worked out on 6 December 2026" in text


def test_widened_small_and_missing_options_read_as_easily(clinic, clinician):
    knees(clinic, clinician, [improved(20.0) for _ in range(8)] + [lost()])  # 9 due of this age and grade
    knees(clinic, clinician, [improved(20.0)], kl_grade=4, age=81)
    knees(clinic, clinician, [improved(20.0) for _ in range(4)], product="prp")
    lines = sentences(result_for(clinician))
    text = " ".join(lines)
    assert grade(text) <= 8, text
    assert "We found too few knees of your age, so these numbers include knees of all ages." in lines
    assert "Not enough data in this registry for platelet-rich plasma (PRP) at 6 months." in lines


# --- The clinician's partial ------------------------------------------------------------------------------------


def test_the_partial_shows_every_figure_with_its_completion(registry, clinician):
    html = render_to_string("outcomes/_expectation.html", {"expectation": result_for(clinician)})
    compact = re.sub(r"\s+", " ", html)
    assert "<caption" in html
    assert 'scope="col"' in html
    assert 'scope="row"' in html
    assert "BMAC (bone marrow aspirate concentrate): knees like this one at 6 months</caption>" in compact
    assert '<td class="num">12 (55%)</td>' in compact  # KOOS Pain and OKS improved, responders
    assert '<td class="num">22 of 32</td>' in compact  # completion beside each figure
    assert "7.5 (" in compact  # the KOOS Pain mean change and its SD
    assert "31.3 (10 events)" in compact  # 31.25 per 100
    assert "Further treatment: Steroid injection" in compact
    assert "first injections March 2026" in compact
    assert "As of 2026-12-06" in compact


def test_the_partial_shows_withheld_and_missing_options(clinic, clinician):
    split(clinic, clinician, 9, 11)
    knees(clinic, clinician, [improved(20.0) for _ in range(4)], product="prp")
    html = render_to_string("outcomes/_expectation.html", {"expectation": result_for(clinician)})
    compact = re.sub(r"\s+", " ", html)
    assert '<td class="num">fewer than 10</td>' in compact
    assert '<td class="num">withheld</td>' in compact
    assert "Not enough data in this registry" in compact
    assert "No age limit: too few knees aged 60-69." in compact  # PRP's steps, before its message


# --- Who sees what ---------------------------------------------------------------------------------------------


def test_each_role_sees_only_its_clinics_knees(registry, clinician, auditor, outsider, other_clinic):
    mine = result_for(clinician)
    assert result_for(auditor) == mine  # read-only roles see the same figures
    for user in (outsider, AnonymousUser()):
        option = only(result_for(user))
        assert (option["product"], option["enough"]) == ("bmac", False)  # nothing of the clinic's knees


def test_knees_of_two_clinics_name_both(registry, clinician, other_clinic, outsider):
    knees(other_clinic, outsider, [improved(20.0) for _ in range(3)])
    Membership.objects.create(user=clinician, clinic=other_clinic, role=Role.CLINICIAN)
    option = only(result_for(clinician))
    assert (option["group"]["clinics"], option["due"]["n"]) == (2, 35)

"""The SQL forms of the outcome rules give, row by row, what the pure functions of outcomes.derived give."""

import random

import pytest

from outcomes import derived
from outcomes.analysis.cohort import cohort, outcome_rows
from outcomes.analysis.expressions import change, oarsi_responder, reaches_mcid
from outcomes.measures import OUTCOME_MEASURES as MEASURES
from outcomes.thresholds import get_thresholds
from tests.outcomes.analysis_data import bulk_pairs

# Values where the rules' edges are: 0 (no relative change possible), exact thresholds, KOOS-like fractions
# (100 - 25 x k / 9 is not exact in binary), the ends of the scale, and missing.
EDGES = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 100 - 25 * 2 / 9, 100 - 25 * 7 / 9, 100 - 25 * 30 / 17]


def random_scores(rng: random.Random) -> dict | None:
    if rng.random() < 0.08:
        return None  # questionnaire not answered
    scores = {}
    for column in ("koos_pain", "koos_symptoms", "koos_adl", "koos_sport_rec", "koos_qol", "vas_pain"):
        scores[column] = _value(rng, 100)
    scores["oks_total"] = None if rng.random() < 0.15 else float(rng.randint(0, 48))
    scores["patient_global"] = _value(rng, 100)
    return scores


def _value(rng: random.Random, top: int):
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.5:
        return rng.choice(EDGES)
    if roll < 0.75:
        return float(rng.randint(0, top))
    return rng.uniform(0, top)


def as_measures(scores: dict | None) -> dict:
    if scores is None:
        return {}
    return {
        "koos.pain": scores.get("koos_pain"),
        "koos.adl": scores.get("koos_adl"),
        "vas.pain": scores.get("vas_pain"),
        "pga.global": scores.get("patient_global"),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_rules_equal_outcomes_derived(seed, clinic, clinician):
    rng = random.Random(seed)
    pairs = [(random_scores(rng), random_scores(rng)) for _ in range(400)]
    # Hand-picked edges: no global at all, global at one timepoint only, a zero baseline.
    pairs += [
        ({"koos_pain": 40.0, "koos_adl": 50.0}, {"koos_pain": 52.0, "koos_adl": 62.0}),
        ({"koos_pain": 40.0, "koos_adl": 50.0, "patient_global": 50.0}, {"koos_pain": 52.0, "koos_adl": 50.0}),
        ({"koos_pain": 100.0, "koos_adl": 100.0}, {"koos_pain": 100.0, "koos_adl": 100.0}),
        ({"vas_pain": 60.0, "koos_adl": 50.0}, {"vas_pain": 30.0, "koos_adl": 50.0}),
    ]
    ids = bulk_pairs(clinic, clinician, pairs)
    thresholds = get_thresholds()
    # One pain instrument per analysis: each responder count reads KOOS Pain only, or the VAS only.
    annotations = {f"responder_{p}": oarsi_responder("1m", pain=p) for p in ("koos.pain", "vas.pain")}
    for m in MEASURES:
        annotations[f"change_{m.column}"] = change("1m", m.column)
        annotations[f"mcid_{m.column}"] = reaches_mcid("1m", m.column, thresholds[m.mcid_key])
    rows = {
        r["pk"]: r
        for r in outcome_rows(cohort(clinician).values("pk")).annotate(**annotations).values("pk", *annotations)
    }
    assert len(rows) == len(pairs)

    decided = 0
    for plan_id, (baseline, follow) in zip(ids, pairs, strict=True):
        row = rows[plan_id]
        for pain in ("koos.pain", "vas.pain"):
            result = derived.omeract_oarsi_from_scores(as_measures(baseline), as_measures(follow), pain=pain)
            expected = result.responder
            assert row[f"responder_{pain}"] == (None if expected is None else int(expected)), (pain, baseline, follow)
            assert result.pain_source in (None, pain.split(".")[0])  # never the other instrument
            decided += expected is not None
        for m in MEASURES:
            b = (baseline or {}).get(m.column)
            f = (follow or {}).get(m.column)
            want_change = derived.change(b, f)
            got_change = row[f"change_{m.column}"]
            assert got_change == (pytest.approx(want_change) if want_change is not None else None)
            want_mcid = derived.reaches_mcid(m.name, b, f, thresholds)
            # The SQL condition is false where the pure rule says "cannot tell" (None): neither is counted.
            assert bool(row[f"mcid_{m.column}"]) == bool(want_mcid), (m.column, b, f)
    assert decided > 100  # the random rows did exercise the rule, not only its missing-data branch


def test_the_rules_read_the_same_from_the_per_plan_summary(clinic, clinician):
    """The dashboard aggregates outcomes.models.PlanOutcome rows with these expressions: row by row they must
    give what the live join gives."""
    from outcomes.analysis import plan_outcomes

    rng = random.Random(7)
    bulk_pairs(clinic, clinician, [(random_scores(rng), random_scores(rng)) for _ in range(200)])
    plan_outcomes.refresh()
    thresholds = get_thresholds()
    annotations = {"responder": oarsi_responder("1m", pain="koos.pain")}
    for m in MEASURES:
        annotations[f"change_{m.column}"] = change("1m", m.column)
        annotations[f"mcid_{m.column}"] = reaches_mcid("1m", m.column, thresholds[m.mcid_key])
    plans = cohort(clinician).values("pk")
    live = {r.pop("pk"): r for r in outcome_rows(plans).annotate(**annotations).values("pk", *annotations)}
    rows = plan_outcomes.summary_rows(plans).annotate(**annotations).values("plan_id", *annotations)
    stored = {r.pop("plan_id"): r for r in rows}
    assert len(live) == 200
    assert stored == live


def test_the_responder_rule_needs_one_named_pain_instrument():
    with pytest.raises(TypeError):
        oarsi_responder("1m")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="pain must be"):
        oarsi_responder("1m", pain="koos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pain must be"):
        derived.omeract_inputs({}, {}, pain="oks.total")


def test_a_knee_with_vas_only_is_undecided_for_the_koos_pain_analysis():
    baseline, follow = {"vas.pain": 70.0, "koos.adl": 40.0}, {"vas.pain": 20.0, "koos.adl": 80.0}
    assert derived.omeract_oarsi_from_scores(baseline, follow).responder is True  # one patient: VAS stands in
    assert derived.omeract_oarsi_from_scores(baseline, follow, pain="koos.pain").responder is None
    assert derived.omeract_oarsi_from_scores(baseline, follow, pain="vas.pain").pain_source == "vas"

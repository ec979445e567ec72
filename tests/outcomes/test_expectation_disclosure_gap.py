"""Knees like mine, attacked: when 1 to 9 knees were not heard back, the number due is given as a range ("21 to 29"
beside 20 heard back) so that the number not heard back cannot be worked out. Nothing beside it may give the exact
number due away: not the given injections (one per knee, the usual case), not a rate per 100 injections (events x
100 / rate), not an exact interval only computable from it, not the share of knees with further treatment. The
strongest form of the check: the whole result, the patient's lines and the clinician's partial read the same
whether 1, 3 or 9 knees were not heard back."""

import json
import re

from django.template.loader import render_to_string

from outcomes.analysis import plan_outcomes
from outcomes.analysis.expectation import CAUTION_RANGE, WITHHELD_INJECTIONS, sentences
from outcomes.analysis.stats import clopper_pearson, share
from tests.outcomes.test_expectation import (
    adverse_events,
    assert_share,
    further,
    improved,
    knees,
    lost,
    measure,
    only,
    result_for,
    same_or_worse,
)


def everything_shown(clinician) -> tuple[dict, str]:
    """The result as the API sends it, and every word a reader sees: the patient's lines and the clinician's table
    (tags dropped)."""
    result = result_for(clinician)
    partial = re.sub(r"<[^>]+>", " ", render_to_string("outcomes/_expectation.html", {"expectation": result}))
    text = " ".join([json.dumps(result), *sentences(result), " ".join(partial.split())])
    return result, text


def numbers_in(text: str) -> set[float]:
    return {float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}


def heard_back_twenty(clinic, clinician, missing: int) -> None:
    better = knees(clinic, clinician, [improved(20.0) for _ in range(10)])
    worse = knees(clinic, clinician, [same_or_worse(-5.0) for _ in range(10)])
    knees(clinic, clinician, [lost() for _ in range(missing)])
    adverse_events(clinician, better)  # 10 non-serious events, one per injection: enough to be shown
    further(worse)  # 10 knees went on to a steroid injection


def test_nothing_beside_the_range_gives_the_number_due_away(clinic, clinician):
    heard_back_twenty(clinic, clinician, missing=3)  # 23 due, each knee one injection
    result, text = everything_shown(clinician)
    option = only(result)
    assert option["due"]["n_text"] == "21 to 29"
    # The attacker's sums: the number due itself, or worked back from a rate (events x 100 / rate) or a share.
    assert not re.search(r"\b23\b", text), "the number due (23) is printed"
    printed = numbers_in(text)
    rate = 100 * 10 / 23
    assert repr(rate) not in text, "10 per 23 is printed"
    assert {round(rate), round(rate, 1)}.isdisjoint(printed), "10 per 23 is printed, rounded"
    for events in (10, 0):  # an exact interval is computable only with the number of injections
        for bound in clopper_pearson(events, 23):
            if bound:
                assert repr(100 * bound) not in text, (events, bound)
                assert round(100 * bound, 1) not in printed, (events, bound)
    further_share = share(10, 23).as_dict()
    assert repr(further_share["pct"]) not in text
    assert repr(further_share["ci_low"]) not in text
    # What is safe stays: the 20 heard back, the figures over them, and the event count (10 or more, or 0).
    assert option["heard_back"]["n_text"] == "20"
    assert_share(measure(option, "koos.pain")["improved"], 10, 20)
    rows = {row["seriousness"]: row for row in option["adverse_events"]["rows"]}
    assert (rows["Non-serious"]["events"], rows["Non-serious"]["events_text"]) == (10, "10")
    assert (rows["Serious"]["events"], rows["Serious"]["events_text"]) == (0, "0")
    for row in rows.values():
        assert (row["injections"], row["per_100"], row["ci_low"], row["ci_high"]) == (None, None, None, None)
        assert row["injections_text"] == WITHHELD_INJECTIONS
    assert option["further_treatment"]["any"]["n_text"] == "10"
    assert option["further_treatment"]["any"]["pct"] is None


def test_the_page_reads_the_same_whether_one_three_or_nine_were_not_heard_back(clinic, clinician):
    heard_back_twenty(clinic, clinician, missing=1)
    shown = [everything_shown(clinician)[1]]
    for more in (2, 6):  # 3, then 9 not heard back
        knees(clinic, clinician, [lost() for _ in range(more)])
        plan_outcomes.refresh()
        shown.append(everything_shown(clinician)[1])
    assert shown[0] == shown[1] == shown[2]


def test_a_few_events_beside_the_range_are_still_fewer_than_ten(clinic, clinician):
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(20)] + [lost() for _ in range(2)])
    adverse_events(clinician, ids[:3])
    rows = {row["seriousness"]: row for row in only(result_for(clinician))["adverse_events"]["rows"]}
    assert (rows["Non-serious"]["events"], rows["Non-serious"]["events_text"]) == (None, "fewer than 10")
    assert (rows["Non-serious"]["injections"], rows["Non-serious"]["per_100"]) == (None, None)
    lines = sentences(result_for(clinician))
    assert not any("22" in line for line in lines)
    assert any("do not show how many injections" in line for line in lines)


def test_with_everyone_heard_back_the_rate_is_still_given(clinic, clinician):
    ids = knees(clinic, clinician, [improved(20.0) for _ in range(20)])
    adverse_events(clinician, ids[:10])
    rows = {row["seriousness"]: row for row in only(result_for(clinician))["adverse_events"]["rows"]}
    assert (rows["Non-serious"]["injections_text"], rows["Non-serious"]["per_100"]) == ("20", 50.0)
    assert rows["Non-serious"]["ci_low"] is not None


def test_the_completion_caution_does_not_tell_eight_from_nine_not_heard_back(clinic, clinician):
    # 12 heard back of 20 due is 60%, of 21 is 57%: a caution decided on the exact number due would give the 9 away.
    knees(clinic, clinician, [improved(20.0) for _ in range(12)] + [lost() for _ in range(8)])
    eight = only(result_for(clinician))
    knees(clinic, clinician, [lost()])
    plan_outcomes.refresh()
    nine = only(result_for(clinician))
    assert eight["due"]["n_text"] == nine["due"]["n_text"] == "13 to 21"
    assert eight["caution"] == nine["caution"] == CAUTION_RANGE  # 12 of up to 21 may be fewer than 6 in 10

"""A flag's evidence lists every measure of outcomes.measures, each with its scale, in the table's order.

Before the table the evidence had its own list: VAS first, and scales on some rows only ("KOOS ADL (function in
daily living)", "KOOS Symptoms"), so a reader could not tell which way was worse for half the scores."""

import pytest

from outcomes.measures import MEASURES
from safety.models import Flag
from safety.selectors import flag_evidence
from safety.services import flags_evaluate

pytestmark = pytest.mark.django_db


def test_evidence_lists_every_measure_with_its_scale(journey):
    j = journey()
    j.baseline(**{"VAS.pain": "30"})
    flags_evaluate(j.one_month(**{"VAS.pain": "55"}).pk)
    evidence = flag_evidence(Flag.objects.get(rule="vas_worse"))
    assert [row.label for row in evidence.scores] == [
        "KOOS Pain (0-100, higher is better)",
        "KOOS Symptoms (0-100, higher is better)",
        "KOOS ADL (0-100, higher is better)",
        "KOOS Sport/Rec (0-100, higher is better)",
        "KOOS QOL (0-100, higher is better)",
        "Oxford Knee Score (0-48, higher is better)",
        "VAS pain (0-100 mm, higher is worse)",
        "Patient global (0-100, higher is worse)",
    ]
    assert len(evidence.scores) == len(MEASURES)
    vas = evidence.scores[6]
    assert (vas.baseline, vas.follow_up, vas.change, vas.worse) == (30.0, 55.0, 25.0, True)

"""The measures table (outcomes.measures): the one list of measures, checked against the instrument definitions
and the published scales (reference sections 1-4)."""

import pytest

from outcomes.instruments import get_instrument
from outcomes.measures import BY_NAME, MEASURES, OUTCOME_MEASURES, submission_columns
from outcomes.models import Submission
from outcomes.thresholds import DEFAULTS


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.name)
def test_each_measure_matches_its_instrument(measure):
    instrument = get_instrument(measure.instrument)
    assert measure.scale in {s.code for s in instrument.scoring.scales}
    assert measure.higher_is_better == (instrument.scoring.direction == "higher_better")
    assert (0, measure.maximum) == tuple(instrument.scoring.range)


def test_every_score_column_of_a_submission_is_a_measure():
    float_columns = {f.name for f in Submission._meta.concrete_fields if f.get_internal_type() == "FloatField"}
    assert float_columns == {m.column for m in MEASURES}


def test_submission_columns_from_scores():
    columns = submission_columns({"KOOS": {"pain": 75.0}, "OKS": {"total": 40.0}, "PGA": {"global": 20.0}})
    assert columns["koos_pain"] == 75.0
    assert columns["oks_total"] == 40.0
    assert columns["patient_global"] == 20.0
    assert columns["vas_pain"] is None
    assert columns["koos_qol"] is None


def test_thresholds_follow_each_measures_direction():
    """A meaningful change is an improvement, a deterioration the other way (reference: KOOS and OKS higher is
    better, VAS pain higher is worse)."""
    assert DEFAULTS["mcid.vas.pain"].direction == "decrease"
    assert DEFAULTS["deterioration.vas.pain"].direction == "increase"
    assert DEFAULTS["mcid.oks.total"].direction == "increase"
    assert DEFAULTS["deterioration.koos.pain"].direction == "decrease"
    assert (DEFAULTS["mcid.oks.total"].value, DEFAULTS["mcid_group.oks.total"].value) == (7.0, 5.0)
    assert DEFAULTS["mcid.vas.pain"].value == 20.0
    assert {key for key in DEFAULTS if key.startswith("mcid.")} == {m.mcid_key for m in OUTCOME_MEASURES}


def test_readings_state_the_scale():
    assert BY_NAME["oks.total"].reading == "0-48, higher is better"  # reference 2: always state 0-48 scoring
    assert BY_NAME["vas.pain"].reading == "0-100 mm, higher is worse"
    assert BY_NAME["pga.global"].reading == "0-100, higher is worse"


@pytest.mark.django_db
def test_trajectory_reads_vas_the_way_the_reference_states_it(clinic, clinician, patient):
    """The trajectory said "lower is better" for the VAS, the flag page "higher is worse"; both now read the
    table, in the reference's words (3: higher = worse, opposite to KOOS and OKS)."""
    from outcomes.analysis.trajectory import patient_trajectory

    scales = {m["key"]: m["scale"] for m in patient_trajectory(patient)["measures"]}
    assert scales["vas_pain"] == "0-100 mm, higher is worse"
    assert scales["oks_total"] == "0-48, higher is better"
    assert list(scales) == [m.column for m in OUTCOME_MEASURES]


def test_the_models_do_not_import_the_analysis():
    """PlanOutcome took its columns from outcomes.analysis.expressions, which imports the models: a circle. The
    columns now come from the measures table, which imports nothing of the project."""
    import ast
    from pathlib import Path

    import outcomes.measures
    import outcomes.models

    def imported(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        return names | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    for path in Path(outcomes.models.__file__).parent.glob("*.py"):
        assert not [m for m in imported(path) if m.startswith("outcomes.analysis")], path.name
    project = ("registry", "outcomes", "safety", "notifications", "audit")
    assert not [m for m in imported(Path(outcomes.measures.__file__)) if m.split(".")[0] in project]

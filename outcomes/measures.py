"""The measures the registry reports: one row per score a submission stores, and everything the other modules
need to know about it (its name, column, labels, scale, direction of improvement and default thresholds).

Every list of measures derives from ``MEASURES``: the Submission columns the services fill, the scores the
selectors read, the dashboard's rows, the patient page, the flag evidence and the default thresholds of
``outcomes.thresholds``. Scales, directions and thresholds follow ../shared/reference (sections 1-4, and "Rules
this project adopts"); tests/outcomes/test_measures.py checks them against the instrument definitions.

Pure data, no Django import: models (outcomes.models.plan_outcome) and pure rules may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

ChangeDirection = Literal["increase", "decrease"]


@dataclass(frozen=True)
class Default:
    """A threshold's default size (a positive magnitude) and the source it comes from."""

    value: float
    source: str
    # Measured in knee-replacement patients, not in the injected OA knees this registry follows: the page says so.
    arthroplasty: bool = False


# Subscale-specific minimal important change for improvement (reference 4): mild-moderate knee OA, non-surgical
# RCT, predictive modelling at 4 months. The nearest population in the reference to injected OA knees.
_KOOS_MIC_SOURCE = (
    "PubMed 41367621 (2025), reference 4: KOOS {} MIC {} points in mild-moderate knee OA (non-surgical RCT, "
    "predictive modelling, 4 months)."
)
# Patient acceptable symptom state (reference 4): the score at or beyond which patients call their state acceptable.
_KOOS_PASS_SOURCE = (
    "advances.massgeneral.org/ortho/journal.aspx?id=1568, reference 4: KOOS {} PASS {} one year after total knee "
    "arthroplasty."
)
# The deterioration signals are efficacy signals ("worsening beyond measurement error"), not safety findings. The
# reference holds no smallest detectable change for KOOS or the VAS, so each keeps the project rule's size and
# states the meaningful-change figure it rests on; OKS -5 lies beyond its MDC90 (~4).
_DETERIORATION_SOURCES = {
    "koos.pain": "Project rule (reference, 'Rules this project adopts'): KOOS Pain -10 against baseline, the "
    "KOOS rule-of-thumb minimal important change of 8-10 points (reference 4, Roos & Lohmander 2003, primary text "
    "not checked). The reference gives no smallest detectable change for KOOS.",
    "oks.total": "Project rule (reference, 'Rules this project adopts'): OKS -5 against baseline, the between-group "
    "MID ~5 of Beard et al. 2015 (reference 4), beyond the OKS MDC90 of ~4 (same source).",
    "vas.pain": "Project rule (reference, 'Rules this project adopts'): VAS pain +20 mm against baseline, the size "
    "of the knee OA MCII of 19.9 mm (Tubach et al. 2005, reference 4). The reference gives no smallest detectable "
    "change for the VAS.",
}


@dataclass(frozen=True)
class Measure:
    name: str  # "koos.pain": the key of scores, thresholds and derived measures (outcomes.scoring.measures)
    column: str  # the Submission column holding its current value (amendments applied), and PlanOutcome's
    instrument: str  # instrument code ("KOOS")
    scale: str  # the instrument's scale code ("pain")
    label: str  # "KOOS Pain"
    short_label: str  # where room is short (the patient page, a flag's one-line summary): "OKS"
    higher_is_better: bool
    maximum: float = 100  # the score runs 0..maximum, so a change runs -maximum..+maximum
    unit: str = ""  # " mm" for the VAS
    mcid: Default | None = None  # minimal important change for an individual
    mcid_group: Default | None = None  # minimal important difference between groups, where it differs
    # Patient acceptable symptom state: a score level (not a change), reached at or beyond it in the direction of
    # improvement (KOOS, OKS at or above; VAS at or below).
    pass_: Default | None = None
    deterioration: Default | None = None  # worsening against baseline that raises a worsening signal (efficacy)

    @property
    def improvement(self) -> ChangeDirection:
        """The direction of change that counts as better (KOOS and OKS rise, VAS pain falls)."""
        return "increase" if self.higher_is_better else "decrease"

    @property
    def worsening(self) -> ChangeDirection:
        return "decrease" if self.higher_is_better else "increase"

    @property
    def reading(self) -> str:
        """How to read the score: "0-48, higher is better"."""
        return f"0-{self.maximum:g}{self.unit}, higher is {'better' if self.higher_is_better else 'worse'}"

    @property
    def described(self) -> str:
        """Label with its reading: "Oxford Knee Score (0-48, higher is better)"."""
        return f"{self.label} ({self.reading})"

    @property
    def mcid_key(self) -> str:
        return f"mcid.{self.name}"

    @property
    def pass_key(self) -> str:
        return f"pass.{self.name}"

    @property
    def deterioration_key(self) -> str:
        return f"deterioration.{self.name}"


def _koos(scale: str, label: str, mic: float, pass_: float | None) -> Measure:
    return Measure(
        f"koos.{scale}",
        f"koos_{scale}",
        "KOOS",
        scale,
        f"KOOS {label}",
        f"KOOS {label}",
        True,
        mcid=Default(mic, _KOOS_MIC_SOURCE.format(label, f"{mic:g}")),
        # The reference has no KOOS Sport/Rec PASS.
        pass_=None if pass_ is None else Default(pass_, _KOOS_PASS_SOURCE.format(label, f"{pass_:g}"), True),
    )


MEASURES: tuple[Measure, ...] = (
    replace(_koos("pain", "Pain", 11.3, 84.5), deterioration=Default(10.0, _DETERIORATION_SOURCES["koos.pain"])),
    _koos("symptoms", "Symptoms", 12.1, 80.5),
    _koos("adl", "ADL", 10.2, 83.0),
    _koos("sport_rec", "Sport/Rec", 15.5, None),
    _koos("qol", "QOL", 13.2, 66.0),
    Measure(
        "oks.total",
        "oks_total",
        "OKS",
        "total",
        "Oxford Knee Score",
        "OKS",
        higher_is_better=True,
        maximum=48,
        mcid=Default(7.0, "Beard et al. 2015, J Clin Epidemiol 68:73 (reference 4): individual MIC ~7 (ROC)."),
        mcid_group=Default(5.0, "Beard et al. 2015, J Clin Epidemiol 68:73 (reference 4): between-group MID ~5."),
        pass_=Default(
            37.0, "Bone Joint Res 2014;3:7 (reference 4): OKS PASS 37 three years after total knee arthroplasty.", True
        ),
        deterioration=Default(5.0, _DETERIORATION_SOURCES["oks.total"]),
    ),
    Measure(
        "vas.pain",
        "vas_pain",
        "VAS",
        "pain",
        "VAS pain",
        "VAS pain",
        higher_is_better=False,
        unit=" mm",
        mcid=Default(20.0, "Tubach et al. 2005 (reference 4): knee OA MCII -19.9 mm on a 0-100 pain VAS, as 20 mm."),
        pass_=Default(
            32.3,
            "Tubach et al. 2005, Ann Rheum Dis 64:34 (reference 4): knee OA PASS 32.3 mm or less on "
            "a 0-100 pain VAS (NSAID-treated OA, 4 weeks).",
        ),
        deterioration=Default(20.0, _DETERIORATION_SOURCES["vas.pain"]),
    ),
    # An OMERACT-OARSI domain (reference 5) with no meaningful-change threshold of its own.
    Measure("pga.global", "patient_global", "PGA", "global", "Patient global", "Patient global", False),
)

BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
BY_COLUMN: dict[str, Measure] = {m.column: m for m in MEASURES}
SCORE_COLUMNS: tuple[str, ...] = tuple(m.column for m in MEASURES)
# What the dashboard, its tables and the trajectory chart report (mean, change and MCID per timepoint): the
# measures with a meaningful change to count. The patient global only feeds the OMERACT-OARSI responder rule.
OUTCOME_MEASURES: tuple[Measure, ...] = tuple(m for m in MEASURES if m.mcid is not None)


def submission_columns(scores: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """Submission score columns from ``questionnaire.score_all``'s scores by instrument and scale
    ({"KOOS": {"pain": 75.0, ...}, ...}); None where an instrument or scale was not scored."""
    return {m.column: (scores.get(m.instrument) or {}).get(m.scale) for m in MEASURES}


def submission_scores(submission: Any) -> dict[str, float | None]:
    """A submission's current scores (its columns carry any clinician amendment), keyed by measure name."""
    return {m.name: getattr(submission, m.column) for m in MEASURES}


def row_scores(row: Mapping[str, Any]) -> dict[str, float | None]:
    """Scores keyed by measure name from a ``.values()`` row of Submission columns."""
    return {m.name: row[m.column] for m in MEASURES}


__all__ = [
    "BY_COLUMN",
    "BY_NAME",
    "MEASURES",
    "OUTCOME_MEASURES",
    "SCORE_COLUMNS",
    "ChangeDirection",
    "Default",
    "Measure",
    "row_scores",
    "submission_columns",
    "submission_scores",
]

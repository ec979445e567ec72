"""Scoring of questionnaire answers: the one implementation used by forms, API, exports and tests.

Pure functions over ``{item code: score}``. The scores are the official scoring-key values that each option
carries in the instrument definition, so nothing here reverses or re-maps answers (reference 1.2). No database
and no Django import here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from outcomes.instruments import Instrument, Item, Scale, get_instrument

Answer = int | float | bool | str | None
Scores = dict[str, float | None]

KOOS4_SUBSCALES: tuple[str, ...] = ("pain", "symptoms", "sport_rec", "qol")


@dataclass(frozen=True)
class ScaleResult:
    score: float | None  # unrounded; round for display only (reference 1.3)
    raw: float | None  # sum of the answered items' scores
    answered: int
    missing: int
    imputed: bool  # scored although items were missing (mean of the answered items stands in for them)


@dataclass(frozen=True)
class ScoreDetail:
    instrument: str
    version: str
    rule: str
    scales: dict[str, ScaleResult]

    @property
    def scores(self) -> Scores:
        return {code: r.score for code, r in self.scales.items()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for storing next to the scores (e.g. that an OKS total was imputed)."""
        return asdict(self)


def _clean(inst: Instrument, item: Item, value: Answer) -> Answer:
    """The validated answer (integral floats become int), or ValueError naming the item."""
    at = f"{inst.code} item {item.code!r}"
    if value is None:
        return None
    if item.type == "yesno":
        if not isinstance(value, bool):
            raise ValueError(f"{at}: answer {value!r} must be true or false")
        return value
    if item.type in ("text", "month"):
        if not isinstance(value, str):
            raise ValueError(f"{at}: answer {value!r} must be text")
        return value
    # Numeric items. Booleans are ints in Python but never scores; numeric strings are rejected so that a
    # caller that forgot to convert form input finds out here rather than in the statistics.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{at}: score {value!r} is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{at}: score {value!r} is not an integer")
        value = int(value)
    if item.type == "slider":
        lo, hi = item.min, item.max
        ok = lo is not None and hi is not None and lo <= value <= hi
    else:
        scores = item.scores
        lo, hi = min(scores), max(scores)
        ok = value in scores
    if not ok:
        raise ValueError(f"{at}: score {value} is out of range {lo}-{hi}")
    return value


def validate_answers(
    instrument_code: str, answers: Mapping[str, Answer], version: str | None = None
) -> dict[str, Answer]:
    """Answers checked against the definition: unknown items, wrong types and out-of-range scores raise."""
    inst = get_instrument(instrument_code, version)
    if not isinstance(answers, Mapping):
        raise ValueError(f"{inst.code} answers must be a mapping of item code to score")
    codes = set(inst.item_codes)
    cleaned: dict[str, Answer] = {}
    for code, value in answers.items():
        if code not in codes:
            raise ValueError(f"{inst.code} item {code!r} is not an item of {inst.code}")
        cleaned[code] = _clean(inst, inst.item(code), value)
    return cleaned


def _score_scale(inst: Instrument, scale: Scale, answers: Mapping[str, Answer]) -> ScaleResult:
    values = [answers[c] for c in scale.items if answers.get(c) is not None]
    n, answered = len(scale.items), len(values)
    raw = float(sum(values)) if values else None  # type: ignore[arg-type]  # numeric after validation
    missing = n - answered
    if answered < scale.min_answered or raw is None:
        return ScaleResult(score=None, raw=raw, answered=answered, missing=missing, imputed=False)
    method = inst.scoring.method
    if method == "koos_subscale":
        # 100 - mean x 25, written as 100 - 25 x sum / n so that exact cases stay exact (reference 1.3).
        score = 100.0 - 25.0 * raw / answered
    elif method == "sum_prorated":
        # OKS: plain sum when complete; with <= max missing, mean(answered) x item count (reference 2).
        # The answers are never changed: imputation exists only in this derived total and its flag.
        score = raw * n / answered
    elif method == "sum_lookup":
        score = float(inst.scoring.table[int(raw)])
    elif method == "value":
        score = raw
    else:  # pragma: no cover - definitions are validated at load
        raise ValueError(f"{inst.code}: scoring method {method!r} has no scales")
    return ScaleResult(score=score, raw=raw, answered=answered, missing=missing, imputed=missing > 0)


def score_detail(instrument_code: str, answers: Mapping[str, Answer], version: str | None = None) -> ScoreDetail:
    """Scores with the counts behind them: answered and missing items per scale, and whether imputed."""
    inst = get_instrument(instrument_code, version)
    cleaned = validate_answers(inst.code, answers, inst.version)
    scales = {s.code: _score_scale(inst, s, cleaned) for s in inst.scoring.scales}
    return ScoreDetail(instrument=inst.code, version=inst.version, rule=inst.scoring.rule, scales=scales)


def score(instrument_code: str, answers: Mapping[str, Answer], version: str | None = None) -> Scores:
    """Scores by scale: KOOS -> pain, symptoms, adl, sport_rec, qol (0-100, 100 = no problems);
    OKS -> total (0-48, 48 = best); VAS -> pain (0-100, higher worse); PGA -> global (0-100, higher worse);
    KOOS_JR -> interval (0-100, 100 = best). None where the missing-item rule gives no score.
    An instrument that is not scored (SAFETY) returns {} after validating the answers."""
    return score_detail(instrument_code, answers, version).scores


def koos4(subscales: Mapping[str, float | None]) -> float | None:
    """KOOS4: mean of Pain, Symptoms, Sport/Rec and QOL (ADL excluded); None if any is missing (reference 1.4)."""
    absent = [k for k in KOOS4_SUBSCALES if k not in subscales]
    if absent:
        raise ValueError(f"KOOS4 needs the subscales {', '.join(absent)}")
    values = [subscales[k] for k in KOOS4_SUBSCALES]
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def measures(instrument_code: str, scores: Mapping[str, float | None]) -> Scores:
    """Scores keyed by measure name ("koos.pain", "oks.total", "vas.pain", "pga.global"), as used by
    outcomes.thresholds and outcomes.derived."""
    prefix = instrument_code.lower()
    return {f"{prefix}.{code}": value for code, value in scores.items()}


def yes_answers(instrument_code: str, answers: Mapping[str, Answer], version: str | None = None) -> list[str]:
    """Codes of the yes/no items answered yes, in questionnaire order (e.g. safety problems to review)."""
    inst = get_instrument(instrument_code, version)
    cleaned = validate_answers(inst.code, answers, inst.version)
    return [i.code for i in inst.items if i.type == "yesno" and cleaned.get(i.code) is True]


__all__ = [
    "KOOS4_SUBSCALES",
    "ScaleResult",
    "ScoreDetail",
    "koos4",
    "measures",
    "score",
    "score_detail",
    "validate_answers",
    "yes_answers",
]

"""Which answers and score changes raise a flag for the clinic to review.

Pure functions over one submission's answers, its current scores and its plan's baseline scores: no database.
Score rules use the deterioration thresholds of ``outcomes.thresholds`` (VAS +20 mm, KOOS Pain -10, OKS -5 by
default, each with its source) and ``outcomes.derived.is_deterioration``, so a number lives in one place.

The setting ``SAFETY_FLAG_RULES`` adjusts the defaults per deployment, e.g.::

    SAFETY_FLAG_RULES = {
        "safety_other_report": {"enabled": False},
        "vas_worse": {"threshold": 25, "source": "Clinic governance minute 2026-03"},
        "safety_swelling": {"urgent": True},
    }

Keys are rule codes (``safety.choices.FlagRule``); each value may set ``enabled`` and ``urgent`` (booleans) and,
for score rules only, ``threshold`` (a positive number) with an optional ``source``. Anything else is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from outcomes.derived import change, is_deterioration
from outcomes.instruments import get_instrument
from outcomes.thresholds import Threshold, get_thresholds
from safety.choices import FlagRule

SETTING = "SAFETY_FLAG_RULES"
SAFETY_INSTRUMENT = "SAFETY"
# The short checks at day 2-3 and day 10-14 (outcomes/instruments/safety-early-1.json): the same item codes where
# they ask the same thing, so one rule covers both questionnaires.
EARLY_SAFETY_INSTRUMENT = "SAFETY_EARLY"
SAFETY_INSTRUMENTS = (SAFETY_INSTRUMENT, EARLY_SAFETY_INSTRUMENT)


class RuleConfigError(ValueError):
    """SAFETY_FLAG_RULES is malformed."""


@dataclass(frozen=True)
class AnswerRule:
    """Fires when the patient answers yes to any of `items` of the safety check (or, with `text`, writes
    anything in a free-text item)."""

    rule: str
    items: tuple[str, ...]
    urgent: bool = False  # by default: from the safety check's urgent items (default_rules)
    enabled: bool = True
    text: bool = False
    # For a multiple-choice item: the option scores that fire it (blood sugar "Yes, higher than usual").
    choices: tuple[int, ...] = ()


@dataclass(frozen=True)
class ScoreRule:
    """Fires when `measure` worsened against the plan's baseline by at least the threshold (inclusive)."""

    rule: str
    measure: str  # as in outcomes.measures: "vas.pain", "koos.pain", "oks.total"
    threshold: Threshold
    urgent: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class SwellingPainRule:
    """Fires when the patient answers yes to `item` and `measure` worsened by at least the threshold (inclusive)
    against the same knee's previous score (not the baseline): a red flag from the combination, with or without
    fever, which is often absent in older patients."""

    rule: str
    item: str
    measure: str
    threshold: Threshold
    urgent: bool = True
    enabled: bool = True


Rule = AnswerRule | ScoreRule | SwellingPainRule


@dataclass(frozen=True)
class Finding:
    rule: str
    urgent: bool
    values: dict[str, Any] = field(default_factory=dict)


# A rule is urgent by default (clinicians emailed at once) when it covers an item the safety check marks urgent
# (outcomes/instruments/safety-1.json and safety-early-1.json: infection signs, hospital admission, clot and
# allergy signs): the answers that tell the patient to
# get care today are the ones that alert the clinic at once, from one definition. The rest wait for the inbox and
# the daily digest. SAFETY_FLAG_RULES may still change a flag's urgency; the patient's advice does not follow it.
_ANSWER_RULES = (
    AnswerRule(FlagRule.SAFETY_INFECTION_SIGNS, ("redness_heat", "fever")),
    AnswerRule(FlagRule.SAFETY_HOSPITAL_ADMISSION, ("hospital_admission",)),
    AnswerRule(FlagRule.SAFETY_SWELLING, ("swelling",)),
    AnswerRule(FlagRule.SAFETY_UNABLE_TO_BEAR_WEIGHT, ("unable_to_bear_weight",)),
    AnswerRule(FlagRule.SAFETY_MEDICAL_CARE, ("care_gp", "care_ed")),
    AnswerRule(FlagRule.SAFETY_HARVEST_SITE, ("harvest_site_problem",)),  # asked for products with a harvest
    # Asked at the early checks only (issue 15): a clot (DVT/PE) and a severe allergic reaction are emergencies;
    # discharge where the needle went in may be infection; the rest wait for the clinic's review.
    AnswerRule(FlagRule.SAFETY_CLOT_SIGNS, ("calf_pain_swelling", "breathless_chest_pain")),
    AnswerRule(FlagRule.SAFETY_ALLERGIC_REACTION, ("face_swelling",)),
    AnswerRule(FlagRule.SAFETY_PUNCTURE_SITE, ("puncture_site",)),
    AnswerRule(FlagRule.SAFETY_FEELING_UNWELL, ("unwell",)),
    AnswerRule(FlagRule.SAFETY_RASH, ("rash_itching",)),
    AnswerRule(FlagRule.SAFETY_NUMBNESS, ("numbness",)),
    # Steroids raise blood glucose for days in people with diabetes; asked after a corticosteroid only.
    AnswerRule(FlagRule.SAFETY_BLOOD_GLUCOSE, ("blood_glucose",), choices=(1,)),
    AnswerRule(FlagRule.SAFETY_OTHER_REPORT, ("other",), text=True),
)


def _urgent_items() -> set[str]:
    return {item.code for code in SAFETY_INSTRUMENTS for item in get_instrument(code).items if item.urgent}


_SCORE_MEASURES = {
    FlagRule.VAS_WORSE: "vas.pain",
    FlagRule.KOOS_PAIN_WORSE: "koos.pain",
    FlagRule.OKS_WORSE: "oks.total",
}
_OVERRIDE_KEYS = {"enabled", "urgent", "threshold", "source"}
# Its own number, not the deterioration flag's: the deterioration threshold is an efficacy signal and may be
# re-based; this one is a safety red flag.
_SWELLING_PAIN_THRESHOLD = Threshold(
    value=20.0,
    direction="increase",
    source="Red flag (issue 15): new swelling with VAS pain 20 mm or more worse than the knee's previous score.",
)


def default_rules() -> dict[str, Rule]:
    """Every rule with its default settings, in the order findings are reported."""
    thresholds = get_thresholds()
    # Codes as plain strings (not enum members), so messages and stored values read "vas_worse".
    urgent = _urgent_items()
    rules: dict[str, Rule] = {
        str(r.rule): replace(r, rule=str(r.rule), urgent=bool(urgent.intersection(r.items))) for r in _ANSWER_RULES
    }
    for rule, measure in _SCORE_MEASURES.items():
        rules[str(rule)] = ScoreRule(str(rule), measure, thresholds[f"deterioration.{measure}"])
    rules[str(FlagRule.SWELLING_WITH_PAIN_WORSE)] = SwellingPainRule(
        str(FlagRule.SWELLING_WITH_PAIN_WORSE), "swelling", "vas.pain", _SWELLING_PAIN_THRESHOLD
    )
    return rules


def _bool(rule: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RuleConfigError(f"{SETTING}[{rule!r}][{key!r}]: {value!r} must be true or false")
    return value


def _apply_override(rule: Rule, override: Any) -> Rule:
    name = rule.rule
    if not isinstance(override, Mapping):
        raise RuleConfigError(f"{SETTING}[{name!r}]: expected a dict with {', '.join(sorted(_OVERRIDE_KEYS))}")
    unknown = set(override) - _OVERRIDE_KEYS
    if unknown:
        raise RuleConfigError(f"{SETTING}[{name!r}]: unknown keys {sorted(unknown)}")
    changes: dict[str, Any] = {}
    for key in ("enabled", "urgent"):
        if key in override:
            changes[key] = _bool(name, key, override[key])
    if "threshold" in override or "source" in override:
        if not isinstance(rule, ScoreRule | SwellingPainRule):
            raise RuleConfigError(f"{SETTING}[{name!r}]: only score rules have a threshold")
        if "threshold" not in override:
            raise RuleConfigError(f"{SETTING}[{name!r}]: a source needs the threshold it is the source of")
        value = override["threshold"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1000:
            raise RuleConfigError(f"{SETTING}[{name!r}]['threshold']: {value!r} must be a positive number")
        source = override.get("source", f"settings.{SETTING}")
        if not isinstance(source, str) or not source.strip():
            raise RuleConfigError(f"{SETTING}[{name!r}]['source']: must be non-empty text")
        changes["threshold"] = replace(rule.threshold, value=float(value), source=source)
    return replace(rule, **changes)


def configured_rules(overrides: Mapping[str, Any] | None = None) -> dict[str, Rule]:
    """The rules in force: defaults with `overrides` (by default settings.SAFETY_FLAG_RULES) applied.
    Raises RuleConfigError naming the bad entry."""
    if overrides is None:
        from django.conf import settings

        overrides = getattr(settings, SETTING, None) or {}
    if not isinstance(overrides, Mapping):
        raise RuleConfigError(f"{SETTING} must be a dict of rule code to settings")
    rules = default_rules()
    for name, override in overrides.items():
        if name not in rules:
            raise RuleConfigError(f"{SETTING}[{name!r}]: unknown rule (known: {', '.join(rules)})")
        rules[name] = _apply_override(rules[name], override)
    return rules


# --- evaluation --------------------------------------------------------------------------------------------------


def _answer_values(answers: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(instrument, {item: value}) of the safety questions, from a submission's {"SAFETY": {item: {"value": ...}}}
    (or "SAFETY_EARLY" at an early check: a submission answers one of them)."""
    instrument = next((code for code in SAFETY_INSTRUMENTS if answers.get(code)), SAFETY_INSTRUMENT)
    block = answers.get(instrument) or {}
    return instrument, {code: entry.get("value") for code, entry in block.items() if isinstance(entry, Mapping)}


def _fires(rule: AnswerRule, value: Any) -> bool:
    if rule.text:
        return isinstance(value, str) and bool(value.strip())
    if rule.choices:
        return type(value) is int and value in rule.choices  # True == 1 in Python: a yes is not a choice
    return value is True


def _check_answers(rule: AnswerRule, safety: Mapping[str, Any], instrument: str) -> Finding | None:
    asked = {code: safety[code] for code in rule.items if code in safety}
    fired = [code for code, value in asked.items() if _fires(rule, value)]
    if not fired:
        return None
    return Finding(rule.rule, rule.urgent, {"instrument": instrument, "answers": asked, "fired": fired})


def _check_score(
    rule: ScoreRule, follow_up: Mapping[str, float | None], baseline: Mapping[str, float | None] | None
) -> Finding | None:
    if baseline is None:
        return None
    before, after = baseline.get(rule.measure), follow_up.get(rule.measure)
    key = f"deterioration.{rule.measure}"
    if not is_deterioration(rule.measure, before, after, {key: rule.threshold}):
        return None  # False, or None when a score is missing at either timepoint
    return Finding(
        rule.rule,
        rule.urgent,
        {
            "measure": rule.measure,
            "baseline": before,
            "follow_up": after,
            "change": change(before, after),
            "threshold": rule.threshold.value,
            "direction": rule.threshold.direction,
            "source": rule.threshold.source,
        },
    )


def _check_swelling_pain(
    rule: SwellingPainRule,
    safety: Mapping[str, Any],
    follow_up: Mapping[str, float | None],
    previous: Mapping[str, float | None] | None,
    instrument: str = SAFETY_INSTRUMENT,
) -> Finding | None:
    if safety.get(rule.item) is not True or previous is None:
        return None
    before, after = previous.get(rule.measure), follow_up.get(rule.measure)
    if not is_deterioration(rule.measure, before, after, {f"deterioration.{rule.measure}": rule.threshold}):
        return None
    return Finding(
        rule.rule,
        rule.urgent,
        {
            "instrument": instrument,
            "answers": {rule.item: True},
            "fired": [rule.item],
            "measure": rule.measure,
            "previous": before,
            "follow_up": after,
            "change": change(before, after),
            "threshold": rule.threshold.value,
            "direction": rule.threshold.direction,
            "source": rule.threshold.source,
        },
    )


def evaluate(
    answers: Mapping[str, Any],
    scores: Mapping[str, float | None],
    baseline_scores: Mapping[str, float | None] | None,
    rules: Mapping[str, Rule] | None = None,
    previous_scores: Mapping[str, float | None] | None = None,
) -> list[Finding]:
    """Findings for one submission, in rule order.

    `answers`: the submission's stored answers; `scores` and `baseline_scores`: current scores keyed by measure
    ("vas.pain", ...). Without a baseline (None), or with a score missing at either timepoint, no score rule
    fires. `previous_scores`: the same knee's most recent earlier scores, for the swelling-with-pain red flag
    (None: it cannot fire). `rules` defaults to ``configured_rules()``.
    """
    rules = configured_rules() if rules is None else rules
    instrument, safety = _answer_values(answers)
    findings = []
    for rule in rules.values():
        if not rule.enabled:
            continue
        if isinstance(rule, AnswerRule):
            finding = _check_answers(rule, safety, instrument)
        elif isinstance(rule, SwellingPainRule):
            finding = _check_swelling_pain(rule, safety, scores, previous_scores, instrument)
        else:
            finding = _check_score(rule, scores, baseline_scores)
        if finding is not None:
            findings.append(finding)
    return findings


__all__ = [
    "SETTING",
    "AnswerRule",
    "Finding",
    "Rule",
    "RuleConfigError",
    "ScoreRule",
    "SwellingPainRule",
    "configured_rules",
    "default_rules",
    "evaluate",
]

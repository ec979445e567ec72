"""Measures derived from scores at two timepoints: change, meaningful change, deterioration and the
OMERACT-OARSI responder. Pure functions; scores come from ``outcomes.scoring`` keyed by measure name
("koos.pain", "oks.total", "vas.pain", "pga.global", see ``outcomes.measures``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from outcomes.thresholds import Threshold, get_thresholds

# Scores such as 100 - 25 x 7 / 9 are not exact in binary; a change that is 10 on paper must count as 10.
EPS = 1e-9

# OMERACT-OARSI 2004 (reference 5): high improvement (criterion A) and moderate improvement (criterion B),
# as (relative, absolute) on 0-100 scales. A published definition, so not configurable.
OARSI_HIGH = (0.50, 20.0)
OARSI_MODERATE = (0.20, 10.0)

Value = float | None


def change(baseline: Value, follow_up: Value) -> Value:
    """Follow-up minus baseline, in the measure's own direction (a KOOS gain is positive, so is a VAS rise)."""
    if baseline is None or follow_up is None:
        return None
    return follow_up - baseline


def change_from_baseline(baseline: Mapping[str, Value], follow_up: Mapping[str, Value]) -> dict[str, Value]:
    """Change for every measure present at either timepoint; None where either score is missing."""
    keys = list(dict.fromkeys([*baseline, *follow_up]))
    return {k: change(baseline.get(k), follow_up.get(k)) for k in keys}


def _meets(delta: float, threshold: Threshold) -> bool:
    signed = delta if threshold.direction == "increase" else -delta
    return signed >= threshold.value - EPS


def _threshold(key: str, thresholds: Mapping[str, Threshold] | None) -> Threshold:
    table = get_thresholds() if thresholds is None else thresholds
    if key not in table:
        raise ValueError(f"no threshold {key!r} (known: {', '.join(sorted(table))})")
    return table[key]


def reaches_mcid(
    measure: str,
    baseline: Value,
    follow_up: Value,
    thresholds: Mapping[str, Threshold] | None = None,
    *,
    level: Literal["individual", "group"] = "individual",
) -> bool | None:
    """Whether the change is at least the minimal important improvement, in the measure's direction
    (KOOS/OKS up, VAS down). Inclusive. None when either score is missing. ``level="group"`` uses the
    between-group value where one exists (OKS 5 rather than 7)."""
    key = f"{'mcid' if level == 'individual' else 'mcid_group'}.{measure}"
    threshold = _threshold(key, thresholds)
    delta = change(baseline, follow_up)
    return None if delta is None else _meets(delta, threshold)


def is_deterioration(
    measure: str, baseline: Value, follow_up: Value, thresholds: Mapping[str, Threshold] | None = None
) -> bool | None:
    """Whether the score worsened by at least the deterioration threshold (VAS +20, KOOS Pain -10,
    OKS -5 by default). Inclusive. None when either score is missing."""
    threshold = _threshold(f"deterioration.{measure}", thresholds)
    delta = change(baseline, follow_up)
    return None if delta is None else _meets(delta, threshold)


def deterioration_flags(
    baseline: Mapping[str, Value],
    follow_up: Mapping[str, Value],
    thresholds: Mapping[str, Threshold] | None = None,
) -> list[str]:
    """Measures (of those with a deterioration threshold) that deteriorated, e.g. ["vas.pain"]."""
    table = get_thresholds() if thresholds is None else thresholds
    measures = [k.removeprefix("deterioration.") for k in table if k.startswith("deterioration.")]
    return [m for m in measures if is_deterioration(m, baseline.get(m), follow_up.get(m), table)]


# --- OMERACT-OARSI ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponderResult:
    responder: bool | None  # None: the inputs cannot decide
    criterion: Literal["A", "B"] | None  # the criterion met, when responder
    reason: str
    pain_source: str | None = None  # "koos" or "vas" when built from scores


def _check_scale(name: str, value: Value) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"OMERACT-OARSI {name}: {value!r} is not a number")
    if not 0 <= value <= 100:
        raise ValueError(f"OMERACT-OARSI {name}: {value!r} is outside 0-100")


def _improved(baseline: float, follow_up: float, rule: tuple[float, float]) -> bool:
    relative, absolute = rule
    if baseline <= 0:
        return False  # guard (reference 5): nothing to improve from 0, and no relative change
    gain = baseline - follow_up  # higher = worse on these scales
    return gain >= absolute - EPS and gain >= relative * baseline - EPS


def omeract_oarsi_responder(
    pain_baseline: Value,
    pain_follow: Value,
    function_baseline: Value,
    function_follow: Value,
    global_baseline: Value = None,
    global_follow: Value = None,
) -> ResponderResult:
    """OMERACT-OARSI responder (Pham 2004; reference 5), all on 0-100 with higher = worse.

    A: pain or function improves >= 50 % and >= 20 points. B: at least 2 of pain, function and patient
    global improve >= 20 % and >= 10 points. Without a patient global, B needs both pain and function.
    Pain and function are the core domains: if either is missing at either timepoint, the result is None.
    """
    args = {
        "pain_baseline": pain_baseline,
        "pain_follow": pain_follow,
        "function_baseline": function_baseline,
        "function_follow": function_follow,
        "global_baseline": global_baseline,
        "global_follow": global_follow,
    }
    for name, value in args.items():
        _check_scale(name, value)
    if pain_baseline is None or pain_follow is None or function_baseline is None or function_follow is None:
        return ResponderResult(None, None, "pain and function are needed at baseline and follow-up")

    if _improved(pain_baseline, pain_follow, OARSI_HIGH) or _improved(function_baseline, function_follow, OARSI_HIGH):
        return ResponderResult(True, "A", "pain or function improved by >= 50 % and >= 20 points")

    moderate = [
        _improved(pain_baseline, pain_follow, OARSI_MODERATE),
        _improved(function_baseline, function_follow, OARSI_MODERATE),
    ]
    global_improved: bool | None
    if global_baseline is None and global_follow is None:
        global_improved = False  # not collected: B then needs pain and function (project rule)
    elif global_baseline is None or global_follow is None:
        global_improved = None  # collected but missing at one timepoint: unknown
    else:
        global_improved = _improved(global_baseline, global_follow, OARSI_MODERATE)

    if sum(moderate) + (global_improved is True) >= 2:
        return ResponderResult(True, "B", "at least 2 of pain, function, global improved by >= 20 % and >= 10")
    if global_improved is None and sum(moderate) == 1:
        return ResponderResult(None, None, "patient global missing at one timepoint; it would decide criterion B")
    return ResponderResult(False, None, "neither criterion A nor criterion B met")


@dataclass(frozen=True)
class OmeractInputs:
    pain_baseline: Value
    pain_follow: Value
    function_baseline: Value
    function_follow: Value
    global_baseline: Value
    global_follow: Value
    pain_source: str | None  # "koos" or "vas"


def _worse_up(koos_value: Value) -> Value:
    return None if koos_value is None else 100.0 - koos_value


def omeract_inputs(
    baseline: Mapping[str, Value], follow_up: Mapping[str, Value], *, pain: str | None = None
) -> OmeractInputs:
    """OMERACT-OARSI inputs from our measures (reference, project rules): pain = 100 - KOOS Pain, or the
    pain VAS when KOOS Pain is missing; function = 100 - KOOS ADL; global = PGA where collected.
    One pain source is used at both timepoints, since mixing KOOS and VAS would fake a change. ``pain``
    ("koos.pain" or "vas.pain") fixes the source, as an analysis over many knees must (one instrument per
    analysis): a knee without it at both timepoints then has no pain input."""
    if pain not in (None, "koos.pain", "vas.pain"):
        raise ValueError(f"pain must be 'koos.pain' or 'vas.pain', not {pain!r}")
    koos = baseline.get("koos.pain") is not None and follow_up.get("koos.pain") is not None
    vas = baseline.get("vas.pain") is not None and follow_up.get("vas.pain") is not None
    if koos and pain in (None, "koos.pain"):
        used = (_worse_up(baseline["koos.pain"]), _worse_up(follow_up["koos.pain"]), "koos")
    elif vas and pain in (None, "vas.pain"):
        used = (baseline["vas.pain"], follow_up["vas.pain"], "vas")
    else:
        used = (None, None, None)
    return OmeractInputs(
        pain_baseline=used[0],
        pain_follow=used[1],
        pain_source=used[2],
        function_baseline=_worse_up(baseline.get("koos.adl")),
        function_follow=_worse_up(follow_up.get("koos.adl")),
        global_baseline=baseline.get("pga.global"),
        global_follow=follow_up.get("pga.global"),
    )


def omeract_oarsi_from_scores(
    baseline: Mapping[str, Value], follow_up: Mapping[str, Value], *, pain: str | None = None
) -> ResponderResult:
    """OMERACT-OARSI responder from measure-keyed scores at baseline and follow-up (``pain``: omeract_inputs)."""
    i = omeract_inputs(baseline, follow_up, pain=pain)
    result = omeract_oarsi_responder(
        i.pain_baseline, i.pain_follow, i.function_baseline, i.function_follow, i.global_baseline, i.global_follow
    )
    return ResponderResult(result.responder, result.criterion, result.reason, pain_source=i.pain_source)


__all__ = [
    "EPS",
    "OARSI_HIGH",
    "OARSI_MODERATE",
    "OmeractInputs",
    "ResponderResult",
    "change",
    "change_from_baseline",
    "deterioration_flags",
    "is_deterioration",
    "omeract_inputs",
    "omeract_oarsi_from_scores",
    "omeract_oarsi_responder",
    "reaches_mcid",
]

"""Clinically meaningful change and deterioration thresholds, each with the source it comes from.

Keys are ``<kind>.<measure>``: kind is ``mcid`` (change for an individual), ``mcid_group`` (difference
between groups), ``pass`` (patient acceptable symptom state: a score level, reached at or beyond it in the
direction of improvement) or ``deterioration`` (a worsening signal: efficacy, not safety); measure names follow
``outcomes.measures`` ("koos.pain", "oks.total", "vas.pain"), whose table holds the defaults. Values are positive
magnitudes; ``direction`` says which way the change must go (for PASS, which side of the level is acceptable).
A clinic overrides values through the Django setting ``OUTCOME_THRESHOLDS`` without code changes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from outcomes.measures import MEASURES, ChangeDirection

SETTING = "OUTCOME_THRESHOLDS"


@dataclass(frozen=True)
class Threshold:
    value: float  # magnitude of the change, always > 0
    direction: ChangeDirection  # the direction of change that counts
    source: str
    # The default comes from knee-replacement cohorts (the page's footnote says so); an override clears it.
    arthroplasty: bool = False


# Measures.py names the PASS default ``pass_`` (``pass`` is a keyword); the threshold key says ``pass``.
_KINDS = {"mcid": "mcid", "mcid_group": "mcid_group", "pass": "pass_", "deterioration": "deterioration"}


def _defaults() -> dict[str, Threshold]:
    """One threshold per default in the measures table, in the measure's direction: a meaningful change is an
    improvement, a deterioration the opposite way."""
    defaults: dict[str, Threshold] = {}
    for kind, attribute in _KINDS.items():
        for m in MEASURES:
            default = getattr(m, attribute)
            if default is not None:
                direction = m.worsening if kind == "deterioration" else m.improvement
                defaults[f"{kind}.{m.name}"] = Threshold(default.value, direction, default.source, default.arthroplasty)
    return defaults


DEFAULTS: dict[str, Threshold] = _defaults()


def _configured_setting(name: str) -> Any:
    """Django setting if settings are set up, else None (thresholds are not read from the environment)."""
    try:
        from django.conf import settings  # optional: derived measures work without Django
    except ImportError:
        return None
    if settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE"):
        return getattr(settings, name, None)
    return None


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{SETTING}[{key!r}]: value {value!r} must be a positive number")
    return float(value)


def merge_thresholds(
    overrides: Mapping[str, Any] | None, defaults: Mapping[str, Threshold] = DEFAULTS
) -> dict[str, Threshold]:
    """Defaults with overrides applied. An override is a number or {"value": number, "source": text};
    the direction of a measure cannot be overridden. Unknown keys or bad values raise ValueError."""
    merged = dict(defaults)
    if overrides is None:
        return merged
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{SETTING} must be a dict of threshold key to value")
    for key, override in overrides.items():
        if key not in defaults:
            raise ValueError(f"{SETTING}[{key!r}]: unknown threshold (known: {', '.join(sorted(defaults))})")
        if isinstance(override, Mapping):
            unknown = set(override) - {"value", "source"}
            if unknown or "value" not in override:
                raise ValueError(f"{SETTING}[{key!r}]: expected a number or {{'value': ..., 'source': ...}}")
            source = override.get("source", f"settings.{SETTING}")
            if not isinstance(source, str) or not source:
                raise ValueError(f"{SETTING}[{key!r}]: source must be non-empty text")
            value = _number(key, override["value"])
        else:
            value, source = _number(key, override), f"settings.{SETTING}"
        merged[key] = replace(defaults[key], value=value, source=source, arthroplasty=False)
    return merged


def get_thresholds() -> dict[str, Threshold]:
    """Thresholds in force: DEFAULTS merged with settings.OUTCOME_THRESHOLDS. Read on each call (cheap) so
    settings overrides in tests apply."""
    return merge_thresholds(_configured_setting(SETTING))


__all__ = ["DEFAULTS", "SETTING", "Threshold", "get_thresholds", "merge_thresholds"]

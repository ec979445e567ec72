"""Fixtures of the outcomes tests: the clock starts the day before the injection (ticking), when the questionnaire
fixtures (recorded, baseline, token: tests/support/journeys.py) record it; a fresh cache so rate-limit counters never
leak from one test into another."""

import pytest
from django.core.cache import cache

from tests.support.journeys import DAY_BEFORE


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock_start():
    """Now is the day before the injection, 10:00 London time."""
    return DAY_BEFORE


@pytest.fixture
def clock_ticks():
    return True  # auto_now fields stay ordered

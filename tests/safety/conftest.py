"""Fixtures of the safety tests: the treated-knee timeline lives in tests/journeys.py (notifications uses it too)."""

from tests.journeys import journey  # noqa: F401 - a fixture, made available to these tests

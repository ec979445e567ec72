"""Time in the tests: clinic-local moments and one ``clock`` fixture (time-machine, never sleeps).

``at(2026, 3, 2, 10)`` is a moment in London time. ``travel_to(day, hour)`` travels there with the clock
ticking (auto_now fields stay ordered), as a context manager. The ``clock`` fixture travels to ``clock_start``
and stops the clock unless ``clock_ticks``; a test directory or module overrides either fixture to start
elsewhere (tests/outcomes: the day before the injection, ticking)."""

import datetime as dt
import zoneinfo

import pytest
import time_machine

LONDON = zoneinfo.ZoneInfo("Europe/London")


def at(year, month, day, hour=10, minute=0, tz=LONDON) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def travel_to(day: dt.date | dt.datetime, hour: int = 10):
    """Travel to a clinic-local moment (a date means ``hour`` o'clock that day); the clock keeps ticking."""
    moment = day if isinstance(day, dt.datetime) else dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON)
    return time_machine.travel(moment, tick=True)


@pytest.fixture
def clock_start() -> dt.datetime:
    """Monday 2 March 2026, 10:00 in London (inside sending hours)."""
    return at(2026, 3, 2)


@pytest.fixture
def clock_ticks() -> bool:
    return False


@pytest.fixture
def clock(clock_start, clock_ticks):
    """A controllable clock (``clock.move_to(...)``), from ``clock_start``."""
    with time_machine.travel(clock_start, tick=clock_ticks) as traveller:
        yield traveller

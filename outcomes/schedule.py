"""Follow-up windows: pure date arithmetic, no database."""

import calendar
import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from outcomes.models.followup import Timepoint

# Months after the plan's first injection at which each follow-up is due.
TIMEPOINT_MONTHS = {Timepoint.ONE_MONTH: 1, Timepoint.SIX_MONTHS: 6}


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of the month, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    timepoint: str
    opens_on: dt.date
    due_on: dt.date
    closes_on: dt.date


def windows(*, injected_on: dt.date, recorded_on: dt.date) -> list[Window]:
    """Baseline opens when the injection is recorded and closes on the injection day: answers given after the
    injection are not a baseline. Later timepoints open a few days before they are due and close weeks after."""
    before = settings.FOLLOW_UP_OPENS_DAYS_BEFORE_DUE
    after = settings.FOLLOW_UP_CLOSES_DAYS_AFTER_DUE
    baseline_opens = min(recorded_on, injected_on)
    result = [Window(Timepoint.BASELINE, baseline_opens, injected_on, injected_on)]
    for timepoint, months in TIMEPOINT_MONTHS.items():
        due = add_months(injected_on, months)
        result.append(Window(timepoint, due - dt.timedelta(days=before), due, due + dt.timedelta(days=after)))
    return result

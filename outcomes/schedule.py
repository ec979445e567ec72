"""Follow-up windows: pure date arithmetic, no database."""

import calendar
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS, Timepoint
from registry.choices import Product

# Months after the plan's first injection at which each follow-up is due.
TIMEPOINT_MONTHS = {
    Timepoint.ONE_MONTH: 1,
    Timepoint.SIX_MONTHS: 6,
    Timepoint.TWELVE_MONTHS: 12,
    Timepoint.TWENTY_FOUR_MONTHS: 24,
}
DEFAULT_PRODUCT_KEY = "default"


def check_timepoints_by_product(config) -> dict[str, tuple[str, ...]]:
    """settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT, checked: {product or "default": timepoint codes}. Raises
    ImproperlyConfigured naming the bad entry (run at start-up by OutcomesConfig.ready, so a typo never starts a
    registry that silently stops following a product)."""
    known = [str(t) for t in TIMEPOINT_MONTHS]
    if not isinstance(config, dict) or DEFAULT_PRODUCT_KEY not in config:
        raise ImproperlyConfigured('FOLLOW_UP_TIMEPOINTS_BY_PRODUCT must be an object with a "default" entry')
    checked = {}
    for product, timepoints in config.items():
        if product != DEFAULT_PRODUCT_KEY and product not in Product.values:
            raise ImproperlyConfigured(
                f"FOLLOW_UP_TIMEPOINTS_BY_PRODUCT: {product!r} is not a product ({', '.join(Product.values)})"
            )
        if (
            not isinstance(timepoints, list | tuple)
            or not timepoints
            or any(t not in known for t in timepoints)
            or len(set(timepoints)) != len(timepoints)
        ):
            raise ImproperlyConfigured(
                f"FOLLOW_UP_TIMEPOINTS_BY_PRODUCT[{product!r}] must list distinct follow-ups from "
                f"{', '.join(known)}, not {timepoints!r}"
            )
        checked[product] = tuple(sorted(timepoints, key=lambda t: TIMEPOINT_MONTHS[t]))
    return checked


def timepoints_for(product: str | None) -> tuple[str, ...]:
    """The follow-ups after baseline that a plan of this product gets, in order."""
    config = check_timepoints_by_product(settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT)
    return config.get(product or DEFAULT_PRODUCT_KEY, config[DEFAULT_PRODUCT_KEY])


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
    # False for a baseline recorded too late to ask for: the follow-up is "not collected", never missed.
    collectable: bool = True


def baseline_window(*, injected_on: dt.date, recorded_on: dt.date) -> Window:
    """The baseline rule, in this one place. It opens when the injection is recorded (or planned) and may be
    answered up to BASELINE_CLOSES_DAYS_AFTER_INJECTION days after the injection: a clinic records injections
    after the visit, and a patient remembers the days before it well enough for that long (the page asks about
    them). Recorded later than that, there is no baseline to collect."""
    closes_on = injected_on + dt.timedelta(days=settings.BASELINE_CLOSES_DAYS_AFTER_INJECTION)
    if recorded_on > closes_on:
        return Window(Timepoint.BASELINE, injected_on, injected_on, injected_on, collectable=False)
    return Window(Timepoint.BASELINE, min(recorded_on, injected_on), injected_on, closes_on)


def safety_check_days() -> dict[str, tuple[int, int, int]]:
    """SAFETY_CHECK_WINDOWS checked: {timepoint: (opens, due, closes)} in days after the injection, for the checks
    in force (none when SAFETY_CHECKS_ENABLED is off; a check left out of the setting is not asked)."""
    if not settings.SAFETY_CHECKS_ENABLED:
        return {}
    raw = settings.SAFETY_CHECK_WINDOWS
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"SAFETY_CHECK_WINDOWS must map d3/d12 to [opens, due, closes], not {raw!r}")
    days: dict[str, tuple[int, int, int]] = {}
    for code, value in raw.items():
        if code not in SAFETY_CHECK_TIMEPOINTS:
            raise ImproperlyConfigured(f"SAFETY_CHECK_WINDOWS: unknown safety check {code!r} (known: d3, d12)")
        if (
            not isinstance(value, list | tuple)
            or len(value) != 3
            or any(not isinstance(d, int) or isinstance(d, bool) for d in value)
            or not 0 <= value[0] <= value[1] <= value[2]
        ):
            raise ImproperlyConfigured(
                f"SAFETY_CHECK_WINDOWS[{code!r}] must be [opens, due, closes] days, 0 <= opens <= due <= closes, "
                f"not {value!r}"
            )
        days[code] = (value[0], value[1], value[2])
    return days


def safety_check_windows(
    *, injected_on: dt.date, recorded_on: dt.date, days: dict[str, tuple[int, int, int]] | None = None
) -> list[Window]:
    """The short safety checks after an injection (SAFETY_CHECK_WINDOWS). One whose window closed before the
    injection was recorded is not collectable: never asked, never counted as missed."""
    result = []
    for code, (opens, due, closes) in (safety_check_days() if days is None else days).items():
        opens_on, due_on, closes_on = (injected_on + dt.timedelta(days=d) for d in (opens, due, closes))
        result.append(Window(code, opens_on, due_on, closes_on, collectable=recorded_on <= closes_on))
    return result


def follow_up_window(*, timepoint: str, injected_on: dt.date) -> Window:
    """A timepoint after baseline: due its months after the first injection, opening a few days before and
    closing weeks after (the same rule at 1, 6, 12 and 24 months)."""
    due = add_months(injected_on, TIMEPOINT_MONTHS[timepoint])
    before = settings.FOLLOW_UP_OPENS_DAYS_BEFORE_DUE
    after = settings.FOLLOW_UP_CLOSES_DAYS_AFTER_DUE
    return Window(timepoint, due - dt.timedelta(days=before), due, due + dt.timedelta(days=after))


def windows(
    *, injected_on: dt.date, recorded_on: dt.date, product: str | None = None, safety_checks: bool = True
) -> list[Window]:
    """The baseline (baseline_window), the short safety checks in force (safety_check_windows; `safety_checks`
    False leaves them out), then the product's later timepoints (timepoints_for)."""
    result = [baseline_window(injected_on=injected_on, recorded_on=recorded_on)]
    if safety_checks:
        result.extend(safety_check_windows(injected_on=injected_on, recorded_on=recorded_on))
    for timepoint in timepoints_for(product):
        result.append(follow_up_window(timepoint=timepoint, injected_on=injected_on))
    return result

"""Notification settings, parsed and checked once at start-up (AppConfig.ready) so a typo fails loudly.

NOTIFICATIONS_SENDING_HOURS              "09:00-19:00": patients are emailed in this daytime window, clinic time
NOTIFICATIONS_REMINDER_DAYS              [3, 7]: reminders this many days after the follow-up opens (at most 2)
NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE  3: the last reminder, days before the window closes (0: none)
NOTIFICATIONS_DIGEST_HOUR                8: the clinic's daily digest goes from this hour, clinic time
NOTIFICATIONS_BATCH_SIZE                 200: messages per send task
NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES      15: a claimed row whose worker died is claimed again after this
NOTIFICATIONS_MAX_ATTEMPTS               8: temporary errors are retried this many times, then the row fails
NOTIFICATIONS_GATHER_MINUTES             15: a patient's emails of one kind due this close together go as one
"""

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class NotificationSettings:
    sending_start: dt.time
    sending_end: dt.time | None  # None: until midnight
    reminder_days: tuple[int, ...]
    final_reminder_days_before_close: int
    digest_hour: int
    batch_size: int
    claim_timeout: dt.timedelta
    max_attempts: int
    gather: dt.timedelta


def _parse_hours(value: str) -> tuple[dt.time, dt.time | None]:
    try:
        start_text, end_text = (part.strip() for part in str(value).split("-"))
        start = dt.time.fromisoformat(start_text)
        end = None if end_text in ("24:00", "24") else dt.time.fromisoformat(end_text)
    except ValueError:
        raise ImproperlyConfigured(f"NOTIFICATIONS_SENDING_HOURS must look like 09:00-19:00, not {value!r}") from None
    if end is not None and end <= start:
        raise ImproperlyConfigured(f"NOTIFICATIONS_SENDING_HOURS must end after it starts, not {value!r}")
    return start, end


def _int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    value = getattr(settings, name, default)
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        limits = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ImproperlyConfigured(f"{name} must be a whole number {limits}, not {value!r}")
    return value


@functools.lru_cache(maxsize=1)
def get() -> NotificationSettings:
    """Validated once and cached: the sweep asks for it per outbox row (the benchmark profile showed it)."""
    start, end = _parse_hours(getattr(settings, "NOTIFICATIONS_SENDING_HOURS", "09:00-19:00"))
    days = getattr(settings, "NOTIFICATIONS_REMINDER_DAYS", [3, 7])
    if (
        not isinstance(days, list | tuple)
        or len(days) > 2
        or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in days)
    ):
        raise ImproperlyConfigured(f"NOTIFICATIONS_REMINDER_DAYS must be up to two positive day counts, not {days!r}")
    return NotificationSettings(
        sending_start=start,
        sending_end=end,
        reminder_days=tuple(sorted(days)),
        final_reminder_days_before_close=_int("NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE", 3, minimum=0),
        digest_hour=_int("NOTIFICATIONS_DIGEST_HOUR", 8, minimum=0, maximum=23),
        batch_size=_int("NOTIFICATIONS_BATCH_SIZE", 200, minimum=1),
        claim_timeout=dt.timedelta(minutes=_int("NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES", 15, minimum=6)),
        max_attempts=_int("NOTIFICATIONS_MAX_ATTEMPTS", 8, minimum=1),
        gather=dt.timedelta(minutes=_int("NOTIFICATIONS_GATHER_MINUTES", 15, minimum=0, maximum=24 * 60)),
    )


@receiver(setting_changed, dispatch_uid="notifications.conf.reload")
def _reload(sender, setting: str, **kwargs) -> None:
    if setting.startswith("NOTIFICATIONS_"):
        get.cache_clear()

"""Notification settings, parsed and checked once at start-up (AppConfig.ready) so a typo fails loudly.

NOTIFICATIONS_SENDING_HOURS              "09:00-19:00": patients are emailed in this daytime window, clinic time
NOTIFICATIONS_REMINDER_DAYS              [3, 7]: reminders this many days after the follow-up opens (at most 2)
NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE  3: the last reminder, days before the window closes (0: none)
NOTIFICATIONS_DIGEST_HOUR                8: the clinic's daily digest goes from this hour, clinic time
NOTIFICATIONS_BATCH_SIZE                 200: messages per send task
NOTIFICATIONS_CLAIM_LEASE_SECONDS        120: a claimed batch is its worker's for this long; the worker renews it
                                         while it runs, so only a dead worker's or lost task's claim runs out,
                                         and the next sweep takes those rows again. At least 15 seconds and three
                                         times EMAIL_TIMEOUT (one hand-over to the mail server must fit in it).
NOTIFICATIONS_MAX_ATTEMPTS               8: temporary errors are retried this many times, then the row fails
NOTIFICATIONS_BACKOFF_BASE_SECONDS       60: wait after the first temporary error, doubling after each one...
NOTIFICATIONS_BACKOFF_MAX_SECONDS        14400: ...up to this
NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES      replaced by the lease; setting it stops start-up with a pointer to it
NOTIFICATIONS_GATHER_MINUTES             15: a patient's emails of one kind due this close together go as one
SMS_REMINDER_DAYS                        [7, 12]: text reminders to patients who agreed to texts and have not
                                         answered, this many days after the follow-up opens (at most 2; [] none).
                                         A patient who may be texted but not emailed also gets the invitation by text.
                                         The default only: a clinic's default reminder strategy, or a patient's arm
                                         of a reminder comparison, sets its own days (outcomes.reminders).
SMS_BACKEND                              how texts go: notifications.sms.DevSmsBackend (into the dev mailbox),
                                         notifications.sms.NotifySmsBackend or notifications.sms.TwilioSmsBackend;
                                         on staging notifications.sms.MailCatcherSmsBackend (each text as an email
                                         to the mail catcher, docker-compose.staging.yml)
SAFETY_CHECK_REMINDER_DAYS               1: the short safety checks' one reminder, days after the invitation (0: none)

Delivery receipts (notifications/receipts.py, notifications/views/receipts.py; read in config/settings.py):
NOTIFY_CALLBACK_TOKEN                    "": the bearer token GOV.UK Notify sends with its receipts to
                                         /receipts/notify/ (at least 32 characters); empty: they are refused
                                         (system check notifications.W001 while texts go through Notify).
                                         Twilio's status callbacks (/receipts/twilio/) are signed with
                                         TWILIO_AUTH_TOKEN over SITE_URL's address, which each text names.
ANYMAIL_ESP                              "": plain SMTP (EMAIL_URL) or the dev mailbox, no receipts. mailgun,
                                         postmark, sendgrid, sparkpost, brevo, mailjet, amazon_ses or resend:
                                         email through that service with django-anymail, its tracking webhook at
                                         /receipts/email/. ANYMAIL_<NAME> variables become anymail's <NAME>
                                         settings (ANYMAIL_MAILGUN_API_KEY, ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY,
                                         ANYMAIL_WEBHOOK_SECRET "user:password"). Mailgun's webhooks are signed:
                                         production will not start without the signing key. The others have only
                                         basic auth: without ANYMAIL_WEBHOOK_SECRET their receipts are refused
                                         (system check notifications.W002).
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
    claim_lease: dt.timedelta
    max_attempts: int
    backoff_base: dt.timedelta
    backoff_max: dt.timedelta
    gather: dt.timedelta
    safety_check_reminder_days: int  # 0: no reminder for the short safety checks
    sms_reminder_days: tuple[int, ...]


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
    sms_days = getattr(settings, "SMS_REMINDER_DAYS", [7, 12])
    if (
        not isinstance(sms_days, list | tuple)
        or len(sms_days) > 2
        or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in sms_days)
    ):
        raise ImproperlyConfigured(f"SMS_REMINDER_DAYS must be up to two positive day counts, not {sms_days!r}")
    if hasattr(settings, "NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES"):
        # A fixed timeout stranded a dead worker's batch for its whole length; the renewed lease replaced it.
        raise ImproperlyConfigured(
            "NOTIFICATIONS_CLAIM_TIMEOUT_MINUTES was replaced by NOTIFICATIONS_CLAIM_LEASE_SECONDS (default 120)"
        )
    # One hand-over to the mail server (connect, then each SMTP step, each up to EMAIL_TIMEOUT) must fit inside
    # a lease, or a sweep could take a row back while its worker is still talking to the mail server.
    email_timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 0
    lease_floor = max(15, 3 * int(email_timeout))
    backoff_base = _int("NOTIFICATIONS_BACKOFF_BASE_SECONDS", 60, minimum=1)
    return NotificationSettings(
        sending_start=start,
        sending_end=end,
        reminder_days=tuple(sorted(days)),
        final_reminder_days_before_close=_int("NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE", 3, minimum=0),
        digest_hour=_int("NOTIFICATIONS_DIGEST_HOUR", 8, minimum=0, maximum=23),
        batch_size=_int("NOTIFICATIONS_BATCH_SIZE", 200, minimum=1),
        claim_lease=dt.timedelta(seconds=_int("NOTIFICATIONS_CLAIM_LEASE_SECONDS", 120, minimum=lease_floor)),
        max_attempts=_int("NOTIFICATIONS_MAX_ATTEMPTS", 8, minimum=1),
        backoff_base=dt.timedelta(seconds=backoff_base),
        backoff_max=dt.timedelta(seconds=_int("NOTIFICATIONS_BACKOFF_MAX_SECONDS", 14400, minimum=backoff_base)),
        gather=dt.timedelta(minutes=_int("NOTIFICATIONS_GATHER_MINUTES", 15, minimum=0, maximum=24 * 60)),
        safety_check_reminder_days=_int("SAFETY_CHECK_REMINDER_DAYS", 1, minimum=0, maximum=14),
        sms_reminder_days=tuple(sorted(sms_days)),
    )


@receiver(setting_changed, dispatch_uid="notifications.conf.reload")
def _reload(sender, setting: str, **kwargs) -> None:
    if setting.startswith("NOTIFICATIONS_") or setting in (
        "EMAIL_TIMEOUT",
        "SAFETY_CHECK_REMINDER_DAYS",
        "SMS_REMINDER_DAYS",
    ):
        get.cache_clear()

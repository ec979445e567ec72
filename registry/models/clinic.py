import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django_countries.fields import CountryField

from registry.choices import Role
from registry.history import HistoricalRecords

# A daily cap is a number of patient messages a clinic-local day; more than this is a typo, not a policy.
MAX_DAILY_CAP = 1_000_000
_CAP_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_DAILY_CAP)]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/London).")


def language_choices() -> list[tuple[str, str]]:
    """The languages patients may be written to in (settings.LANGUAGES): a callable, so a clinic adding one changes
    a setting, not a migration. No CheckConstraint for the same reason; full_clean checks the choice."""
    return list(settings.LANGUAGES)


class ContactChannels(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    BOTH = "both", "Email and text message"


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    time_zone = models.CharField(max_length=64, default="Europe/London", validators=[validate_time_zone])
    # A second check on questionnaire links: the patient confirms their year of birth.
    link_requires_year_of_birth = models.BooleanField(default=False)
    contact_email = models.EmailField(blank=True, help_text="Shown to patients in emails as who is asking.")
    phone = models.CharField(
        max_length=30,
        blank=True,
        validators=[RegexValidator(r"^\+?[0-9][0-9 ()-]{5,28}$", "Digits, spaces, brackets and dashes; + for abroad.")],
        help_text="The number patients call: shown to a patient whose answers need care today (page and email).",
    )
    # Where the clinic is: the country of its adverse-event reports (CIOMS I box 1a, E2B(R3) C.2.r.3).
    country = CountryField(blank=True, help_text="ISO 3166 country code, e.g. GB. Shown on adverse-event reports.")
    # Which contact consents the patient form offers ticked: the clinic's usual way of reaching its patients.
    default_channels = models.CharField(
        max_length=8,
        choices=ContactChannels.choices,
        default=ContactChannels.EMAIL,
        help_text="How new patients are usually contacted: the consent boxes the patient form starts with ticked.",
    )
    # Staff of this clinic must sign in with a second factor (TOTP); set by its lead or an administrator.
    require_two_factor = models.BooleanField(default=False)
    # The language a new patient of this clinic is written to in, unless they choose another.
    default_language = models.CharField(
        max_length=16,
        choices=language_choices,
        default="en-gb",
        help_text="The language new patients get their questionnaires and emails in, unless they choose another.",
    )
    # After sending a questionnaire, the patient may open their own scores over time (outcomes.own_scores): shown to
    # patients in a randomised trial to improve how they experienced the questionnaire (Geerards et al.).
    show_own_scores = models.BooleanField(
        default=True,
        help_text="After sending a questionnaire, patients may see their own scores for that knee over time "
        "(their own only, in plain words).",
    )
    # At most this many patient questionnaire emails / texts a clinic-local day (empty: no limit). Past it the rest
    # wait for the next day's sending window, oldest due first (notifications.services.sending). A cap the clinic's
    # provider contract or budget sets; urgent safety emails to staff are never held by it.
    daily_email_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=_CAP_VALIDATORS,
        help_text="Most patient emails sent in one day (clinic time); empty for no limit. The rest wait a day.",
    )
    daily_text_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=_CAP_VALIDATORS,
        help_text="Most patient text messages sent in one day (clinic time); empty for no limit. The rest wait a day.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Who changed a clinic's settings (defaults, daily caps...) and when: the audit trail.
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_channels__in=ContactChannels.values), name="clinic_default_channels_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(daily_email_cap__isnull=True)
                | models.Q(daily_email_cap__gte=1, daily_email_cap__lte=MAX_DAILY_CAP),
                name="clinic_daily_email_cap_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(daily_text_cap__isnull=True)
                | models.Q(daily_text_cap__gte=1, daily_text_cap__lte=MAX_DAILY_CAP),
                name="clinic_daily_text_cap_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def default_consents(self) -> dict[str, bool]:
        """Initial values of the patient form's contact consents."""
        return {
            "consent_email_contact": self.default_channels in (ContactChannels.EMAIL, ContactChannels.BOTH),
            "consent_sms_contact": self.default_channels in (ContactChannels.SMS, ContactChannels.BOTH),
        }

    def daily_cap(self, channel: str) -> int | None:
        """The clinic's daily limit of patient messages on this channel ("email" or "sms"), None for none."""
        return self.daily_text_cap if channel == ContactChannels.SMS else self.daily_email_cap

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def phone_link(self) -> str:
        """tel: address of the phone number (one tap on a phone), or "" without one."""
        digits = re.sub(r"[^0-9+]", "", self.phone)
        return f"tel:{digits}" if digits else ""


class Membership(models.Model):
    """A staff member's role in one clinic. A person may work in several clinics with different roles."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="one_role_per_clinic"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"

import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django_countries.fields import CountryField

from registry.choices import Role


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(default_channels__in=ContactChannels.values), name="clinic_default_channels_valid"
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

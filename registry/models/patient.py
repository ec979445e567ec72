import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from registry.choices import Sex, WithdrawalDecision
from registry.history import HistoricalRecords
from registry.models.clinic import language_choices

# Crockford base32 without I, L, O, U: easy to read out over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_registry_number() -> str:
    """A random, order-free identifier (40 bits), e.g. KR-7G3K-9QPD."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"KR-{body[:4]}-{body[4:]}"


def validate_year_of_birth(value: int) -> None:
    this_year = timezone.now().year
    if not 1900 <= value <= this_year:
        raise ValidationError(f"Year of birth must be between 1900 and {this_year}.")


class Patient(models.Model):
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="patients")
    registry_number = models.CharField(max_length=16, unique=True, default=new_registry_number, editable=False)
    # Identifying details stay in the clinic: never exported, never in emails beyond the address itself.
    full_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=40,
        blank=True,
        help_text="Stored as E.164 (+447700900123); a number without + is read as the clinic's country's. "
        "Required when `consent_sms_contact` is true.",
    )
    year_of_birth = models.PositiveSmallIntegerField(validators=[validate_year_of_birth])
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)

    consent_on = models.DateField(help_text="Date the patient signed the registry consent.")
    consent_version = models.CharField(max_length=40)
    consent_registry = models.BooleanField(
        default=True, help_text="Consents to their data being held and analysed in the registry."
    )
    consent_email_contact = models.BooleanField(
        default=True, help_text="Consents to be emailed questionnaires and reminders."
    )
    # Off for everyone enrolled before text messages: nobody is texted without having agreed to it.
    consent_sms_contact = models.BooleanField(
        default=False, help_text="Consents to be sent questionnaires and reminders by text message."
    )
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_decision = models.CharField(
        max_length=16,
        choices=WithdrawalDecision.choices,
        blank=True,
        help_text="What happens to data already stored, as agreed with the patient.",
    )
    withdrawal_reason = models.TextField(blank=True)
    # Set by the unsubscribe link in every email: stops email contact but is not a withdrawal of consent.
    email_opted_out_at = models.DateTimeField(null=True, blank=True)
    # The language of the patient's pages, emails and texts. Empty on a new patient means the clinic's default
    # (registry.services.patient_enrol fills it in), so the record always says which language was used.
    preferred_language = models.CharField(
        max_length=16,
        choices=language_choices,
        blank=True,
        help_text="Questionnaires, emails and texts go out in this language. Leave empty for the clinic's default.",
    )
    # Set when the text message provider says the patient opted out (replied STOP): stops texts only.
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    # Set by a text the provider refused for good (not a number, not a mobile); cleared when the number changes.
    phone_invalid_at = models.DateTimeField(null=True, blank=True)
    phone_invalid_reason = models.CharField(max_length=200, blank=True)
    # Set by an email that bounced for good (the mail provider's receipt); cleared when the address changes.
    # db_default: the bulk writers (demo, benchmark) insert patients with raw SQL that does not name it.
    email_invalid_at = models.DateTimeField(null=True, blank=True)
    email_invalid_reason = models.CharField(max_length=200, blank=True, default="", db_default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=models.Q(withdrawal_decision__in=[*WithdrawalDecision.values, ""]),
                name="patient_withdrawal_decision_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.registry_number

    @property
    def has_withdrawn(self) -> bool:
        return self.consent_withdrawn_at is not None

    @property
    def may_email(self) -> bool:
        """Whether the registry may send this patient any email at all, right now."""
        return bool(
            self.email
            and self.consent_email_contact
            and not self.has_withdrawn
            and self.email_opted_out_at is None
            and self.email_invalid_at is None
        )

    @property
    def language(self) -> str:
        """The language to write to this patient in: their choice, else their clinic's default."""
        return self.preferred_language or self.clinic.default_language

    @property
    def may_text(self) -> bool:
        """Whether the registry may send this patient a text message at all, right now."""
        return bool(
            self.phone
            and self.consent_sms_contact
            and not self.has_withdrawn
            and self.sms_opted_out_at is None
            and self.phone_invalid_at is None
        )

    def clean(self) -> None:
        from registry.phones import default_region, normalise_phone

        super().clean()
        try:
            self.phone = normalise_phone(self.phone, region=default_region(self.clinic if self.clinic_id else None))
        except ValidationError as error:
            raise ValidationError({"phone": error.messages}) from None
        if self.consent_sms_contact and not self.phone:
            raise ValidationError({"phone": "Give a mobile number for text messages, or untick text message contact."})

    def age_on(self, day) -> int:
        # Only the year of birth is held (data minimisation), so age is approximate to within a year.
        return day.year - self.year_of_birth


AGE_BANDS = [(0, 39), (40, 49), (50, 59), (60, 69), (70, 79), (80, 200)]


def age_band(age: int | None) -> str:
    if age is None:
        return ""
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}-{high}" if high < 200 else f"{low}+"
    return ""


__all__ = ["Patient", "age_band", "new_registry_number"]

"""Patients' phone numbers, checked with libphonenumber and stored in E.164 (+447700900123): the one form a text
message provider accepts, and one spelling per number so the same number is recognised wherever it is typed."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

# Ofcom's numbers for drama and examples (07700 900xxx, 01632 960xxx): nobody's real number, so the demo and
# the tests use them; libphonenumber calls them invalid. A provider refuses them, which marks them as bad.
FICTIONAL_PREFIXES = ("+447700900", "+441632960")


def default_region(clinic) -> str:
    """Where a number typed without +country is from: the clinic's country, else PHONE_DEFAULT_REGION (GB)."""
    country = str(getattr(clinic, "country", "") or "")
    return country or getattr(settings, "PHONE_DEFAULT_REGION", "GB")


def normalise_phone(value: str, *, region: str) -> str:
    """The number in E.164, or ValidationError saying what is wrong with it. Empty stays empty."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"“{value}” is not a phone number. Type it as the patient gives it, e.g. 07700 900123 or +44 7700 900123."
        ) from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    fictional = len(e164) == 13 and e164.startswith(FICTIONAL_PREFIXES)
    if not (phonenumbers.is_valid_number(number) or fictional):
        raise ValidationError(
            f"“{value}” is not a valid number in {phonenumbers.region_code_for_number(number) or region}. "
            "Check the digits, or add the country code (+33 ...) for a number from abroad."
        )
    return e164

"""The one helper for data that leaves the clinic (exports, analyses, files sent to collaborators).

A patient is identified only by the registry number (random, carries no meaning) and described by an age band,
never by year of birth, name, email, phone or any token. Exports build their rows with `patient_columns` and
pass anything else through `scrub`, which drops identifying keys and fails loudly on an unexpected one.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone

from registry.models import Patient
from registry.models.patient import age_band

# Never in anything that leaves the clinic.
IDENTIFYING_KEYS = frozenset(
    {
        "full_name",
        "name",
        "email",
        "phone",
        "year_of_birth",
        "date_of_birth",
        "recipient",
        "token",
        "token_hash",
        "withdrawal_reason",
        "rehabilitation_notes",
        "pathology_notes",
        "note",
        "notes",
    }
)


def patient_columns(patient: Patient, *, on: date | None = None) -> dict[str, Any]:
    """The patient as an export may show them: pseudonym, age band on the day given (default today), sex."""
    day = on or timezone.localdate()
    return {
        "registry_number": patient.registry_number,
        "age_band": age_band(patient.age_on(day)),
        "sex": patient.sex,
    }


def scrub(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row without identifying keys (free-text notes count: they may name people)."""
    return {key: value for key, value in row.items() if key.lower() not in IDENTIFYING_KEYS}


def check_row(row: Mapping[str, Any]) -> None:
    """For an export's tests: raise if a row carries anything identifying."""
    leaked = sorted(key for key in row if key.lower() in IDENTIFYING_KEYS)
    if leaked:
        raise ValueError(f"Identifying columns in an export row: {', '.join(leaked)}")

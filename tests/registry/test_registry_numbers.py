"""A new patient's registry number is random (it reveals no enrolment order) but never a duplicate: when the draw
repeats a number already held, enrolment draws again instead of failing."""

import datetime as dt
import itertools
import re
import secrets

import pytest

from registry.models import Patient
from registry.models.patient import _ALPHABET
from registry.services import patient_enrol
from tests.factories import PatientFactory

DETAILS = {
    "full_name": "Ada Lovelace",
    "email": "ada@example.org",
    "year_of_birth": 1960,
    "sex": "female",
    "consent_on": dt.date(2026, 1, 5),
    "consent_version": "v1.0",
}


@pytest.mark.django_db(transaction=True)  # the savepoint and the unique index as PostgreSQL applies them
def test_a_drawn_number_already_held_is_drawn_again(clinic, clinician, monkeypatch):
    PatientFactory(clinic=clinic, registry_number="KR-AAAA-AAAA")
    draws = itertools.chain(["A"] * 8, itertools.repeat("B"))  # KR-AAAA-AAAA (taken), then KR-BBBB-BBBB
    monkeypatch.setattr(secrets, "choice", lambda alphabet: next(draws))

    patient = patient_enrol(clinic=clinic, by=clinician, data=DETAILS)

    assert patient.registry_number == "KR-BBBB-BBBB"
    assert sorted(Patient.objects.values_list("registry_number", flat=True)) == ["KR-AAAA-AAAA", "KR-BBBB-BBBB"]
    assert patient.history.count() == 1  # the failed attempt left no audit row
    assert patient.history.get().registry_number == "KR-BBBB-BBBB"


def test_test_patients_are_numbered_apart_from_drawn_numbers(db, clinic):
    numbers = [PatientFactory(clinic=clinic).registry_number for _ in range(3)]
    assert len(set(numbers)) == 3
    assert all(re.fullmatch(r"KR-\d{4}-U\d{3}", n) for n in numbers)
    assert not {"U"} & set(_ALPHABET)  # the letter that keeps them apart from drawn numbers

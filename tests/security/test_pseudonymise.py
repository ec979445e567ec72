"""Anything that leaves the clinic names a patient only by registry number and age band."""

import datetime as dt

import pytest

from registry.pseudonymise import check_row, patient_columns, scrub
from tests.factories import PatientFactory


def test_patient_columns_are_pseudonymous(clinic):
    patient = PatientFactory(clinic=clinic, full_name="Ann Example", email="ann@example.org", year_of_birth=1961)
    row = patient_columns(patient, on=dt.date(2026, 3, 2))
    assert row == {"registry_number": patient.registry_number, "age_band": "60-69", "sex": patient.sex}
    check_row(row)
    assert "Ann" not in str(row)
    assert "1961" not in str(row)


def test_scrub_drops_identifying_keys_and_check_row_refuses_them():
    row = {"registry_number": "KR-1", "Email": "a@b.c", "full_name": "A", "token": "t", "koos_pain": 50}
    assert scrub(row) == {"registry_number": "KR-1", "koos_pain": 50}
    with pytest.raises(ValueError, match="Email, full_name, token"):
        check_row(row)

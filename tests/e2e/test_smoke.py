"""The newcomer's first minute in a real browser: sign in, land on the patient list, on a desktop and a phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, PatientFactory


@pytest.fixture
def north_patient(clinic):
    return PatientFactory(clinic=clinic, full_name="Margaret Ellison")


@pytest.fixture
def south_patient(other_clinic):
    return PatientFactory(clinic=other_clinic, full_name="Someone Elsewhere")


def _signs_in_and_sees_own_patients(page, live_server, sign_in, clinician, north_patient, south_patient):
    sign_in(page, clinician, PASSWORD)
    expect(page).to_have_url(re.compile(r"/attention/$"))
    expect(page.get_by_role("heading", name="Needs your attention", level=1)).to_be_visible()
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
    expect(page.get_by_text(north_patient.registry_number)).to_be_visible()
    expect(page.get_by_text(south_patient.registry_number)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()


def test_clinician_signs_in_and_lands_on_the_patient_list(
    page, live_server, sign_in, clinician, north_patient, south_patient
):
    _signs_in_and_sees_own_patients(page, live_server, sign_in, clinician, north_patient, south_patient)


def test_same_on_a_phone_without_sideways_scrolling(
    phone_page, live_server, sign_in, clinician, north_patient, south_patient
):
    _signs_in_and_sees_own_patients(phone_page, live_server, sign_in, clinician, north_patient, south_patient)
    overflow = phone_page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


def test_wrong_password_stays_on_sign_in_with_an_error(page, live_server, sign_in, clinician):
    sign_in(page, clinician, "not-the-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")

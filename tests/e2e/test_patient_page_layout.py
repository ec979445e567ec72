"""The patient page on a laptop and a phone: a long email address wraps inside its own cell instead of running
over the phone number beside it, and the page is never wider than the screen (its follow-up table scrolls in
its own box). The same checks run on every page in test_every_page.py; this one pins the page they were found on."""

import pytest

from tests.e2e.checks import layout_problems
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD, PatientFactory, make_injection


@pytest.fixture
def patient_with_long_contact(clinic, clinician):
    patient = PatientFactory(
        clinic=clinic,
        full_name="Margaret Ellison-Whitfield",
        email="margaret.ellison-whitfield.knee.registry@example.org",
        phone="+44 7700 900000 ext. 1234",
    )
    make_injection(patient, clinician)
    return patient


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 900}, PHONE], ids=["laptop", "phone"])
def test_contact_details_never_overlap_and_the_page_fits(
    viewport, new_page, live_server, sign_in, clinician, patient_with_long_contact
):
    page = new_page(viewport=viewport)
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/patients/{patient_with_long_contact.registry_number}/")
    email = page.get_by_text(patient_with_long_contact.email).bounding_box()
    phone = page.get_by_text(patient_with_long_contact.phone).bounding_box()
    apart = email["x"] + email["width"] <= phone["x"] or email["y"] + email["height"] <= phone["y"]
    assert apart, (email, phone)
    assert layout_problems(page) == []

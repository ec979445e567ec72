"""The patient's copy of a consultation (issue 16): the clinician gives the patient a copy from the consultation
page and sees the link once; the patient opens it on a 390 px phone with no sign-in, reads the decision and what
knees like theirs did, and downloads the PDF. Both pages are checked by axe-core (page_auditor) and fit the
phone's width; screenshots go to the artefacts folder (tests/e2e/checks.py)."""

import pytest
from playwright.sync_api import expect

from outcomes.analysis import plan_outcomes
from tests.consultations.factories import make_consultation
from tests.e2e.checks import assert_no_sideways_scroll, screenshot
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD
from tests.outcomes.analysis_data import bulk_pairs

BEFORE = {"pain": 40.0, "adl": 40.0, "pga": 60.0, "oks": 20.0}
BETTER = {"pain": 60.0, "adl": 60.0, "pga": 30.0, "oks": 30.0}
WORSE = {"pain": 35.0, "adl": 40.0, "pga": 60.0, "oks": 18.0}


@pytest.fixture
def consultation(clinic, clinician, patient):
    """A BMAC consultation (20 Feb 2026) in a clinic with 14 BMAC knees whose 6-month follow-up is long due."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 10 + [(BEFORE, WORSE)] * 4, timepoint="6m")
    plan_outcomes.refresh()
    return make_consultation(patient, clinician)


def _fits_the_phone(page):
    assert_no_sideways_scroll(page, PHONE["width"])


def test_a_clinician_gives_the_patient_a_copy_they_read_on_a_phone(
    page, phone_page, live_server, sign_in, clinician, consultation
):
    staff = sign_in(page, clinician, PASSWORD)
    staff.goto(f"{live_server.url}/consultations/{consultation.pk}/")
    section = staff.locator("section#patient-copy")
    expect(section).to_contain_text("No working link.")
    section.get_by_role("button", name="Give the patient a copy").click()
    expect(staff.get_by_role("heading", name="The patient's copy is ready")).to_be_visible()
    url = staff.get_by_label("Link to the patient's copy").input_value()
    assert url.startswith(f"{live_server.url}/copy/")
    screenshot(staff, "patient-copy-issued")
    staff.get_by_role("link", name="Back to the consultation").click()
    expect(staff.locator("section#patient-copy")).to_contain_text("not opened yet")

    patient = phone_page  # no sign-in: the link is the key
    patient.goto(url)
    expect(patient.get_by_role("heading", name="Your left knee: what we talked about")).to_be_visible()
    expect(patient.get_by_test_id("copy-decision")).to_contain_text(
        "We agreed to go ahead with an injection of bone marrow cells (BMAC) into your left knee."
    )
    knees = patient.get_by_test_id("copy-knees")
    expect(knees).to_contain_text("we heard back from 14 at 6 months")
    expect(knees).to_contain_text("likely between")
    expect(patient.get_by_test_id("copy-fallback")).to_contain_text("about 6 months after the injection")
    _fits_the_phone(patient)
    screenshot(patient, "patient-copy-phone")

    with patient.expect_download() as download_info:
        patient.get_by_role("link", name="Download a printable copy (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == "knee-consultation-2026-02-20.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    staff.reload()
    expect(staff.locator("section#patient-copy")).to_contain_text("last opened")
    staff.locator("section#patient-copy").get_by_role("button", name="Revoke the link").click()
    expect(staff.locator("section#patient-copy")).to_contain_text("No working link.")
    patient.goto(url)
    expect(patient.get_by_role("heading", name="This link no longer works")).to_be_visible()
    _fits_the_phone(patient)
    screenshot(patient, "patient-copy-revoked-phone")

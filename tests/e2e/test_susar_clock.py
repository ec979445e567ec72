"""A clinician sees a SUSAR candidate's clock on the attention page (on a phone), opens the event, records the
initial report made to the MHRA, and the candidate leaves the clock list. Every page is checked by axe-core."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.safety.ae_support import make_study_injection, susar


@pytest.fixture
def candidate(patient, clinician):
    return susar(clinician, make_study_injection(patient, clinician), aware_on=timezone.localdate() - dt.timedelta(14))


def test_a_clinician_reports_a_susar_candidate_from_the_attention_page(
    phone_page, live_server, sign_in, clinician, candidate
):
    page = sign_in(phone_page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/attention/")
    section = page.locator("section#susar")
    expect(section.get_by_role("heading", name=re.compile("SUSAR candidates"))).to_be_visible()
    expect(section).to_contain_text("1 day left")
    section.get_by_role("link", name="Effusion / swelling").click()

    expect(page.locator("#regulatory")).to_contain_text("1 day left")
    page.get_by_role("link", name="Record a report made").click()
    page.get_by_label("Sent to").select_option("mhra_yellow_card")
    page.get_by_label("Date submitted").fill(timezone.localdate().isoformat())
    page.get_by_label("Reference").fill("GB-2026-0099")
    page.get_by_role("button", name="Record the report").click()

    expect(page.locator("#regulatory")).to_contain_text("to MHRA Yellow Card, ref GB-2026-0099")
    page.goto(f"{live_server.url}/attention/")
    expect(page.locator("section#susar")).to_contain_text("Nothing here.")

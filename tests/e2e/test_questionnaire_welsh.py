"""A Welsh patient answers their questionnaire on a phone (issue 17): the link opens in Welsh (lang="cy") whatever
the browser's language, the patient answers section by section and sends, the thanks page is in Welsh, every page
passes axe-core (page_auditor), and the stored scores equal those of the same answers given in English."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.models import FollowUp, FollowUpStatus, Submission, Timepoint
from outcomes.services import link_create, questionnaire_submit
from tests.e2e.checks import assert_no_sideways_scroll, screenshot
from tests.e2e.conftest import PHONE
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for


def _baseline(patient, clinician) -> FollowUp:
    """An injection in three days: its baseline questionnaire is open today, whatever today is."""
    injection = make_injection(patient, clinician, injected_on=timezone.localdate() + dt.timedelta(days=3))
    baseline = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)
    assert baseline.status == FollowUpStatus.OPEN
    return baseline


@pytest.fixture
def welsh_link(clinic, clinician):
    patient = PatientFactory(clinic=clinic, preferred_language="cy")
    baseline = _baseline(patient, clinician)
    return baseline, link_create(follow_up=baseline)


def test_a_welsh_patient_answers_on_a_phone_and_is_scored_as_in_english(
    phone_page, live_server, welsh_link, clinic, clinician
):
    baseline, token = welsh_link
    answers = answers_for(baseline)
    page = phone_page
    page.goto(f"{live_server.url}/q/{token}/")
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Holiadur eich pen-glin chwith")
    expect(page.locator("#q-progress-label")).to_have_text(re.compile(r"^Adran 1 o \d$"))
    expect(page.get_by_role("link", name="English")).to_be_visible()
    screenshot(page, "welsh-questionnaire-first-section", full_page=False)

    send = page.get_by_role("button", name="Anfon fy atebion")
    for _ in range(10):  # section by section, as the patient goes
        for name, value in answers.items():
            radio = page.locator(f'input[type="radio"][name="{name}"][value="{value}"]')
            number = page.locator(f'input[type="number"][name="{name}"]')
            if radio.count() and radio.is_visible():
                radio.check()
            elif number.count() and number.is_visible():
                number.fill(value)
        if send.is_visible():
            break
        page.get_by_role("button", name="Nesaf").filter(visible=True).click()
    assert_no_sideways_scroll(page, PHONE["width"])
    send.click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Diolch, mae eich atebion wedi'u hanfon")
    screenshot(page, "welsh-questionnaire-thanks", full_page=False)

    welsh = Submission.objects.get(follow_up=baseline)
    assert welsh.language == "cy"
    # The same answers, sent in English by another patient of the clinic, through the same service.
    english_baseline = _baseline(PatientFactory(clinic=clinic), clinician)
    english = questionnaire_submit(follow_up=english_baseline, data=answers, language="en-gb")
    assert english.language == "en-gb"
    assert welsh.scores == english.scores
    assert (welsh.koos_pain, welsh.oks_total, welsh.vas_pain, welsh.patient_global) == (
        english.koos_pain,
        english.oks_total,
        english.vas_pain,
        english.patient_global,
    )
    assert welsh.instrument_versions == english.instrument_versions

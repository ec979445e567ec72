"""A patient sends their 1-month questionnaire on a phone, opens "See how your scores have changed" and reads their
own scores for that knee, in English and in Welsh (issue 17). Every page passes axe-core (page_auditor), nothing is
wider than the phone, and the scores page is words first with a bar beside each number."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.models import FollowUp, FollowUpStatus, SubmissionSource, Timepoint
from outcomes.services import link_create, questionnaire_submit
from tests.e2e.checks import assert_no_sideways_scroll, screenshot
from tests.e2e.conftest import PHONE
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for

WORDS = {
    "en-gb": {
        "next": "Next",
        "send": "Send my answers",
        "link": "See how your scores have changed",
        "heading": "How your scores have changed",
        "knee": "your left knee",
        "slider": "lower is better: 0 means no pain",
        "went": "Your pain slider score went from 70 (before your injection) to 40",
        "six": "About 6 months after your injection: Not due yet.",
    },
    "cy": {
        "next": "Nesaf",
        "send": "Anfon fy atebion",
        "link": "Gweld sut mae eich sgorau wedi newid",
        "heading": "Sut mae eich sgorau wedi newid",
        "knee": "eich pen-glin chwith",
        "slider": "yn is yn well: mae 0 yn golygu dim poen",
        "went": "Aeth eich sgôr poen ar y llithrydd o 70 (cyn eich pigiad) i 40",
        "six": "Tua 6 mis ar ôl eich pigiad: Ddim yn ddyledus eto.",
    },
}


def _month_link(clinic, clinician, language: str):
    """An injection 33 days ago, its baseline entered by staff (VAS 70), its 1-month questionnaire open today."""
    patient = PatientFactory(clinic=clinic, preferred_language=language)
    injection = make_injection(patient, clinician, injected_on=timezone.localdate() - dt.timedelta(days=33))
    baseline = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)
    questionnaire_submit(
        follow_up=baseline,
        data=answers_for(baseline, **{"VAS.pain": "70"}),
        source=SubmissionSource.STAFF_ENTERED,
        entered_by=clinician,
    )
    one_month = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
    assert one_month.status == FollowUpStatus.OPEN
    return one_month, link_create(follow_up=one_month)


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_a_patient_reads_their_own_scores_after_sending_on_a_phone(
    phone_page, live_server, clinic, clinician, language
):
    words = WORDS[language]
    clinic.phone = "029 2000 0000"
    clinic.save()
    one_month, token = _month_link(clinic, clinician, language)
    answers = answers_for(one_month)  # VAS 40
    page = phone_page
    page.goto(f"{live_server.url}/q/{token}/")
    send = page.get_by_role("button", name=words["send"])
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
        page.get_by_role("button", name=words["next"]).filter(visible=True).click()
    send.click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))

    page.get_by_role("link", name=words["link"]).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/scores/\?s="))
    expect(page.locator("html")).to_have_attribute("lang", "cy" if language == "cy" else "en-gb")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["heading"])
    expect(page.get_by_test_id("own-scores-knee")).to_contain_text(words["knee"])
    slider = page.get_by_test_id("own-scores-measure").last
    expect(slider).to_contain_text(words["went"])
    expect(slider).to_contain_text(words["slider"])
    expect(page.get_by_test_id("own-scores-answered")).to_contain_text(words["six"])
    expect(page.get_by_test_id("own-scores-clinic")).to_contain_text("029 2000 0000")
    # Seven scores, each with its words and a bar the screen reader skips (the number is beside it).
    expect(page.get_by_test_id("own-scores-measure")).to_have_count(7)
    expect(page.locator("svg.own-scores-bar[aria-hidden='true']")).to_have_count(14)
    assert_no_sideways_scroll(page, PHONE["width"])
    screenshot(page, f"own-scores-{language}")

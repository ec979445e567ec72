"""A patient completes the 1-month questionnaire from their emailed link on a phone: KOOS, OKS, the pain
slider, the patient global and the safety check; the page is reloaded midway and nothing is lost; the link then
shows the already-submitted page."""

import datetime as dt
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.models import FollowUp, FollowUpStatus, Submission, SubmissionSource, Timepoint
from outcomes.services import link_create
from tests.factories import make_injection

SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")  # set to keep phone screenshots for a visual check


@pytest.fixture
def month_link(patient, clinician):
    """An injection 33 days ago: its 1-month questionnaire is open today, whatever today is."""
    injected_on = timezone.localdate() - dt.timedelta(days=33)
    injection = make_injection(patient, clinician, injected_on=injected_on)
    one_month = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
    assert one_month.status == FollowUpStatus.OPEN
    return one_month, link_create(follow_up=one_month)


def _shot(page, name):
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, f"{name}.png"), full_page=False)


def _choose(page, name, value):
    page.locator(f'input[name="{name}"][value="{value}"]').check()


def _next(page, expected_section):
    page.get_by_role("button", name="Next").filter(visible=True).click()
    expect(page.locator("#q-progress-label")).to_have_text(f"Section {expected_section} of 6")


def test_patient_completes_the_questionnaire_on_a_phone(phone_page, live_server, month_link):
    page = phone_page
    follow_up, token = month_link
    url = f"{live_server.url}/q/{token}/"

    response = page.goto(url)
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator("#q-progress-label")).to_have_text("Section 1 of 6")
    _shot(page, "q-1-koos")

    # KOOS: every item, score 1 (so every subscale is 75).
    for code in [
        *(f"S{i}" for i in range(1, 8)),
        *(f"P{i}" for i in range(1, 10)),
        *(f"A{i}" for i in range(1, 18)),
        *(f"SP{i}" for i in range(1, 6)),
        *(f"Q{i}" for i in range(1, 5)),
    ]:
        _choose(page, f"KOOS.{code}", 1)
    _next(page, 2)

    # OKS: half of it, then the phone is locked and the page reopened.
    for i in range(1, 7):
        _choose(page, f"OKS.Q{i}", 3)
    expect(page.locator("#q-save-status")).to_have_text("Your answers are saved.")
    page.reload()
    expect(page.locator("#q-progress-label")).to_have_text("Section 2 of 6")
    expect(page.locator('input[name="OKS.Q6"][value="3"]')).to_be_checked()
    expect(page.locator('input[name="KOOS.P9"][value="1"]')).to_be_checked()
    for i in range(7, 13):
        _choose(page, f"OKS.Q{i}", 3)
    _next(page, 3)

    # Pain: the slider, kept in step with the number box.
    _shot(page, "q-3-vas-untouched")
    page.locator("#q-VAS-pain-range").fill("35")
    expect(page.locator("#q-VAS-pain-number")).to_have_value("35")
    _shot(page, "q-3-vas")
    _next(page, 4)

    # Patient global: typed into the number box instead; the slider follows.
    page.get_by_label("Your answer (0 to 100)").filter(visible=True).fill("30")
    expect(page.locator("#q-PGA-global-range")).to_have_value("30")
    _next(page, 5)

    # Further treatment since the injection: none, occasional pain medicine, home exercises.
    _choose(page, "FURTHER.injection", "no")
    _choose(page, "FURTHER.surgery", "no")
    page.locator('input[name="FURTHER.pain_medicine"]').nth(1).check()
    page.locator('input[name="FURTHER.physiotherapy"]').nth(1).check()
    _next(page, 6)

    # Safety check: a required question left out is pointed at before sending.
    for code in (
        "redness_heat",
        "fever",
        "unable_to_bear_weight",
        "care_gp",
        "care_ed",
        "hospital_admission",
        "harvest_site_problem",
    ):
        _choose(page, f"SAFETY.{code}", "no")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator("#q-SAFETY-swelling-error-js")).to_have_text("Please answer this question.")
    _shot(page, "q-5-safety-error")
    _choose(page, "SAFETY.swelling", "yes")
    page.get_by_label("Anything else you would like the clinic to know?").fill("A little stiff in the mornings.")
    page.get_by_role("button", name="Send my answers").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your answers have been sent")
    _shot(page, "q-6-thanks")

    submission = Submission.objects.get(follow_up=follow_up)
    assert submission.source == SubmissionSource.PATIENT_LINK
    assert (submission.koos_pain, submission.oks_total, submission.vas_pain, submission.patient_global) == (
        75.0,
        36.0,
        35.0,
        30.0,
    )
    assert submission.answers["SAFETY"]["swelling"] == {"value": True}
    assert submission.answers["SAFETY"]["other"] == {"value": "A little stiff in the mornings."}
    # The thanks page's own script clears the drafts once it has run (the heading shows before it does).
    page.wait_for_function("() => Object.keys(localStorage).filter(k => k.startsWith('q-draft-')).length === 0")

    # The same link again: the already-submitted page, nothing changed.
    again = page.goto(url)
    assert again.status == 409
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answers have already been sent")
    assert Submission.objects.filter(follow_up=follow_up).count() == 1


def test_questionnaire_fits_a_phone_without_sideways_scrolling(phone_page, live_server, month_link):
    _, token = month_link
    phone_page.goto(f"{live_server.url}/q/{token}/")
    overflow = phone_page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    # Every answer is a touch target at least 44px high.
    heights = phone_page.eval_on_selector_all(
        ".q-section:not([hidden]) label.option", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert heights
    assert min(heights) >= 44

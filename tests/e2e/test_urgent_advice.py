"""On a phone, a patient who answers that they have had a fever is told on the thanks page, before anything else
they could miss, to contact the clinic today or go to A&E, with the clinic's number to tap; the same advice
goes to them by email. A patient with nothing urgent gets the ordinary thanks and no such email."""

import datetime as dt
import os
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import MessageKind, OutboundMessage
from notifications.services import messages_send
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.services import draft_save, link_create
from tests.e2e.checks import assert_no_sideways_scroll
from tests.e2e.conftest import PHONE
from tests.factories import make_injection, questionnaire_data

SAFETY_ITEMS = (
    "swelling",
    "redness_heat",
    "fever",
    "unable_to_bear_weight",
    "care_gp",
    "care_ed",
    "hospital_admission",
    "harvest_site_problem",
)
SCREENSHOT_DIR = os.environ.get("E2E_SCREENSHOT_DIR")  # set to keep phone screenshots for a visual check


@pytest.fixture
def month_link(patient, clinician):
    """A 1-month questionnaire open today, everything but the safety check already answered (a saved draft)."""
    patient.clinic.phone = "0113 496 0123"
    patient.clinic.save()
    injection = make_injection(patient, clinician, injected_on=timezone.localdate() - dt.timedelta(days=33))
    follow_up = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
    assert follow_up.status == FollowUpStatus.OPEN
    answered = {k: v for k, v in questionnaire_data(follow_up).items() if not k.startswith("SAFETY.")}
    draft_save(follow_up=follow_up, data=answered)
    return follow_up, link_create(follow_up=follow_up)


def _answer_safety(page, live_server, token, **yes):
    page.goto(f"{live_server.url}/q/{token}/")
    for section in range(2, 7):  # the further-treatment answers (section 5) are in the draft
        page.get_by_role("button", name="Next").filter(visible=True).click()
        expect(page.locator("#q-progress-label")).to_have_text(f"Section {section} of 6")
    for code in SAFETY_ITEMS:
        page.locator(f'input[name="SAFETY.{code}"][value="{"yes" if code in yes else "no"}"]').check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))


def test_a_patient_with_a_fever_is_told_to_contact_the_clinic_today(phone_page, live_server, month_link):
    page = phone_page
    follow_up, token = month_link
    _answer_safety(page, live_server, token, fever=True)

    advice = page.get_by_role("region", name="Please contact the clinic today")
    expect(advice).to_be_visible()
    expect(advice).to_contain_text("contact the clinic today")
    expect(advice).to_contain_text("go to a hospital emergency department (A&E) now")
    call = advice.get_by_role("link", name="0113 496 0123")
    expect(call).to_have_attribute("href", "tel:01134960123")
    # On a 390 px phone the advice and the number to tap are on the first screen, and nothing scrolls sideways.
    box = call.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]
    assert_no_sideways_scroll(page, PHONE["width"])
    expect(page.get_by_text("There is nothing more to do")).to_have_count(0)
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "q-thanks-urgent.png"))

    # The same advice by email, through the outbox (sent here rather than by a worker).
    (row,) = OutboundMessage.objects.filter(kind=MessageKind.SAFETY_ADVICE, follow_up=follow_up)
    assert messages_send([row.pk]).sent == 1
    (email,) = mail.outbox
    assert email.to == [follow_up.patient.email]
    assert "contact the clinic today" in email.body
    assert "0113 496 0123" in email.body


def test_a_patient_with_nothing_urgent_gets_the_ordinary_thanks(phone_page, live_server, month_link):
    page = phone_page
    _, token = month_link
    _answer_safety(page, live_server, token, swelling=True)  # worth a flag for the clinic, not care today

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your answers have been sent")
    expect(page.get_by_text("There is nothing more to do")).to_be_visible()
    expect(page.get_by_text("contact the clinic today")).to_have_count(0)
    expect(page.get_by_text("0113 496 0123")).to_have_count(0)
    assert not OutboundMessage.objects.filter(kind=MessageKind.SAFETY_ADVICE).exists()

"""The day 2-3 safety check on a 390 px phone (issue 15): the patient's page says it is a short safety check and
asks only the pain slider and the early safety questions (harvest site for BMAC); answering that they are
breathless or have chest pain brings the 999 advice first, then the clinic's; every page is checked by axe-core
(page_auditor) and nothing scrolls sideways."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.instruments import get_instrument
from outcomes.models import FollowUp, FollowUpStatus, Submission, Timepoint
from outcomes.services import draft_save, link_create
from safety.choices import FlagRule
from safety.services import flags_evaluate
from tests.e2e.checks import assert_no_sideways_scroll
from tests.e2e.conftest import PHONE
from tests.factories import make_injection


@pytest.fixture
def day_3_link(patient, clinician):
    patient.clinic.phone = "0113 496 0123"
    patient.clinic.save()
    injection = make_injection(patient, clinician, injected_on=timezone.localdate() - dt.timedelta(days=2))
    check = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.DAY_3)
    assert check.status == FollowUpStatus.OPEN
    draft_save(follow_up=check, data={"VAS.pain": "55"})  # the slider moved on an earlier visit
    return check, link_create(follow_up=check)


def _no_sideways_scroll(page):
    assert_no_sideways_scroll(page, PHONE["width"])


def test_the_day_3_check_on_a_phone_with_an_emergency_answer(phone_page, live_server, day_3_link):
    check, token = day_3_link
    page = phone_page
    page.goto(f"{live_server.url}/q/{token}/")
    expect(page.get_by_text("A short safety check, a few days after your injection")).to_be_visible()
    expect(page.locator('input[name^="KOOS."], input[name^="OKS."]')).to_have_count(0)
    expect(page.locator('input[name="SAFETY_EARLY.harvest_site_problem"]')).to_have_count(2)  # BMAC: yes / no
    expect(page.locator('input[name="SAFETY_EARLY.blood_glucose"]')).to_have_count(0)  # not after a steroid
    _no_sideways_scroll(page)

    items = [i.code for i in get_instrument("SAFETY_EARLY").items_for_product(check.plan.product) if i.type == "yesno"]
    send = page.get_by_role("button", name="Send my answers")
    answered: set[str] = set()
    for _ in range(10):  # section by section, as the patient goes
        for code in items:
            value = "yes" if code == "breathless_chest_pain" else "no"
            choice = page.locator(f'input[name="SAFETY_EARLY.{code}"][value="{value}"]')
            if code not in answered and choice.is_visible():
                choice.check()
                answered.add(code)
        if send.is_visible():
            break
        page.get_by_role("button", name="Next").filter(visible=True).click()
    assert answered == set(items)
    send.click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))

    emergency = page.get_by_role("region", name=re.compile("call 999"))
    expect(emergency).to_be_visible()
    expect(emergency.get_by_role("link", name="999")).to_have_attribute("href", "tel:999")
    box = emergency.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= PHONE["height"]  # on the first screen
    expect(page.get_by_role("region", name="Please contact the clinic today")).to_be_visible()
    _no_sideways_scroll(page)

    submission = Submission.objects.get(follow_up=check)
    assert submission.vas_pain == 55
    (flag,) = flags_evaluate(submission.pk)
    assert (flag.rule, flag.urgent) == (FlagRule.SAFETY_CLOT_SIGNS, True)

"""The fallback review (issue 16) in the browser: the review list shows a non-responder on a phone; the clinician
records the fallback (physiotherapy and a repeat injection offered, the repeat injection taken), then records the
repeat injection from the review and sees the new course linked to the one that did not help. Every page is
checked by axe-core (page_auditor); the list is screenshotted and must not scroll sideways on the phone."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consultations.models import FallbackReview
from registry.models import TreatmentPlan
from tests.e2e.checks import assert_no_sideways_scroll, screenshot
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD
from tests.outcomes.analysis_data import make_plan
from tests.registry.test_views_injections import form_data

BASELINE = {"pain": 40, "adl": 45, "oks": 20, "pga": 60}
SIX_MONTHS = {"pain": 44, "adl": 47, "oks": 22, "pga": 58}  # below every MCID: a non-responder


@pytest.fixture
def non_responder(clinic, clinician, patient):
    """A BMAC course given 200 days ago, scored at baseline and six months with almost no change."""
    injected_on = timezone.localdate() - dt.timedelta(days=200)
    return make_plan(
        clinic,
        clinician,
        patient=patient,
        injected_on=injected_on,
        scores={"baseline": BASELINE, "6m": SIX_MONTHS},
    )


def _fill(page, data: dict) -> None:
    """Type a form's values as a person would, field by field (visible fields only: the other products'
    protocol fieldsets stay hidden)."""
    for name, value in data.items():
        field = page.locator(f'[name="{name}"]')
        if not field.count() or not field.first.is_visible():
            continue
        kind = field.first.get_attribute("type")
        tag = field.first.evaluate("e => e.tagName")
        if isinstance(value, list):
            for v in value:
                page.locator(f'[name="{name}"][value="{v}"]').check()
        elif kind == "radio":
            page.locator(f'[name="{name}"][value="{value}"]').check()
        elif tag == "SELECT":
            field.first.select_option(str(value))
        else:
            field.first.fill(str(value))


def test_a_clinician_records_the_fallback_and_the_repeat_injection(
    phone_page, new_page, live_server, sign_in, clinician, non_responder
):
    page = sign_in(phone_page, clinician, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    expect(page.get_by_role("heading", name="Fallback reviews", level=1)).to_be_visible()
    due = page.locator("section#due")
    registry_number = non_responder.patient.registry_number
    expect(due).to_contain_text(registry_number)
    expect(due).to_contain_text("Not improved")
    expect(due).to_contain_text("KOOS Pain 40, OKS 20")
    expect(due).to_contain_text("KOOS Pain 44, OKS 22")
    assert_no_sideways_scroll(page, PHONE["width"])
    screenshot(page, "review-list-phone")

    due.get_by_role("link", name=re.compile("Record the review")).click()
    expect(page.get_by_role("heading", name="Record the review", level=1)).to_be_visible()
    page.get_by_label("Physiotherapy", exact=True).check()
    page.get_by_label("Repeat injection", exact=True).check()
    page.locator('select[name="offered_product"]').select_option("bmac")
    page.get_by_label("Took a repeat injection", exact=True).check()
    page.get_by_label("Notes").fill("Pain unchanged at six months; a second BMAC after physiotherapy.")
    screenshot(page, "review-form-phone")
    page.get_by_role("button", name="Save the review").click()

    reviewed = page.locator("section#reviewed")
    expect(reviewed).to_contain_text("Took a repeat injection")
    expect(page.locator("section#due")).not_to_contain_text(registry_number)
    review = FallbackReview.objects.get()
    assert (review.finding, review.offered, review.path_taken) == (
        "not_improved",
        ["physiotherapy", "repeat_injection"],
        "repeat_injection",
    )

    # The injection form is long: recorded on a desktop-sized page in the same session.
    desktop = new_page()
    desktop.context.add_cookies(page.context.cookies())
    desktop.goto(page.url)
    desktop.locator("section#reviewed").get_by_role("link", name=re.compile("Record the injection")).click()
    expect(desktop.get_by_label("Repeat of an earlier course")).to_have_value(str(non_responder.pk))
    expect(desktop.locator('[name="product"]')).to_have_value("bmac")
    data = form_data(clinician, injected_on=(timezone.localdate() - dt.timedelta(days=1)).isoformat())
    for preset in ("product", "knee", "clinician"):
        del data[preset]
    _fill(desktop, data)
    screenshot(desktop, "repeat-injection-form")
    desktop.get_by_role("button", name="Record injection").click()

    repeat = TreatmentPlan.objects.exclude(pk=non_responder.pk).get()
    assert repeat.repeat_of == non_responder
    expect(desktop.locator(f"#course-{repeat.pk}")).to_contain_text("Repeat of")
    expect(desktop.locator(f"#course-{non_responder.pk}")).to_contain_text("Repeated by")
    screenshot(desktop, "patient-page-repeat-linked")
    desktop.goto(f"{live_server.url}/consultations/reviews/")
    expect(desktop.locator("section#reviewed")).to_contain_text("Repeat course recorded")

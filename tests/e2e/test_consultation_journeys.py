"""A clinician records two consultations in the browser (issue 16): one that advises against an injection (KL 4,
marked varus malalignment; a bad input first: advising against with no reason, shown beside the field with
nothing typed lost), and one that proceeds with BMAC on a 390 px phone, with its fallback plan and "knees like
this one", then records the injection from it with the factors carried over. Every page is checked by axe-core
(page_auditor); screenshots go to the artefacts directory (tests/e2e/checks.py)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consultations.models import Consultation
from consultations.selectors import consultation_expectation
from outcomes.analysis import plan_outcomes
from registry.models import Injection
from tests.e2e.checks import assert_no_sideways_scroll, screenshot
from tests.e2e.conftest import PHONE
from tests.factories import BMAC_PROTOCOL, PASSWORD
from tests.outcomes.analysis_data import bulk_pairs

BEFORE = {"pain": 40.0, "adl": 40.0, "pga": 60.0, "oks": 20.0}
BETTER = {"pain": 60.0, "adl": 60.0, "pga": 30.0, "oks": 30.0}
WORSE = {"pain": 35.0, "adl": 40.0, "pga": 60.0, "oks": 18.0}


def choose(page, name: str, *values: str) -> None:
    """Answer a field by its name as a person would: pick from a list, or tick the radio button or boxes."""
    field = page.locator(f'[name="{name}"]').first
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(list(values))
        return
    for value in values:
        page.locator(f'[name="{name}"][value="{value}"]').check()


def fill(page, **values: str) -> None:
    for name, value in values.items():
        page.locator(f'[name="{name}"]').fill(value)


def no_sideways_scroll(page) -> None:
    assert_no_sideways_scroll(page, PHONE["width"])


def open_new_consultation(page, live_server, patient) -> None:
    page.goto(f"{live_server.url}/patients/{patient.registry_number}/")
    page.get_by_role("link", name="New consultation").click()
    expect(page.get_by_role("heading", level=1, name="Record a consultation")).to_be_visible()


def test_a_consultation_that_advises_against_an_injection(page, live_server, sign_in, clinician, patient):
    sign_in(page, clinician, PASSWORD)
    open_new_consultation(page, live_server, patient)
    choose(page, "knee", "left")
    fill(page, consulted_on=timezone.localdate().isoformat(), kl_grade="4", bmi="31.4", alignment_degrees="12")
    choose(page, "bmi_status", "measured")
    choose(page, "alignment", "varus")
    choose(page, "alternatives_discussed", "exercise", "weight")
    choose(page, "decision", "advise_against")
    reasoning = "Bone on bone medially with a 12 degree varus knee: an injection is unlikely to help."
    fill(page, reasoning=reasoning, referred_to="Physiotherapy; surgical opinion (osteotomy or replacement)")
    page.get_by_role("button", name="Save consultation").click()

    # Advising against with no reason: a clear error beside the field, and everything typed is still there.
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Advising against an injection needs at least one reason against")
    expect(page.locator(".field-invalid")).to_contain_text("at least one reason against")
    expect(page.locator('[name="kl_grade"]')).to_have_value("4")
    expect(page.locator('[name="alignment_degrees"]')).to_have_value("12")
    expect(page.locator('[name="reasoning"]')).to_have_value(reasoning)
    expect(page.locator('[name="referred_to"]')).to_have_value(re.compile("^Physiotherapy; surgical opinion"))
    expect(page.locator('[name="alternatives_discussed"][value="weight"]')).to_be_checked()
    expect(page.locator('[name="decision"][value="advise_against"]')).to_be_checked()
    screenshot(page, "consultation-advise-against-no-reason")
    assert not Consultation.objects.exists()

    choose(page, "reasons_against", "kl_4", "malalignment")
    page.get_by_role("button", name="Save consultation").click()

    expect(page.get_by_role("heading", level=1, name="Consultation, left knee")).to_be_visible()
    decision = page.locator("section", has=page.get_by_role("heading", name="Decision", exact=True))
    expect(decision).to_contain_text("Advise against an injection")
    expect(decision).to_contain_text("Physiotherapy; surgical opinion (osteotomy or replacement)")
    reasoning_card = page.locator("section", has=page.get_by_role("heading", name="Reasoning", exact=True))
    expect(reasoning_card).to_contain_text("End-stage OA (KL grade 4); Marked malalignment")
    expect(reasoning_card).to_contain_text("Exercise therapy and physiotherapy; Weight management")
    expect(page.get_by_role("heading", name="Fallback plan")).to_have_count(0)  # only when proceeding
    expect(page.get_by_role("link", name="Record the injection")).to_have_count(0)
    selection = page.locator("section", has=page.get_by_role("heading", name="Selection and risk factors"))
    expect(selection).to_contain_text("Varus")
    expect(selection).to_contain_text("12")
    screenshot(page, "consultation-advise-against")
    consultation = Consultation.objects.get()
    assert (consultation.decision, consultation.kl_grade, consultation.alignment_degrees) == ("advise_against", 4, 12)

    # The clinic's decisions count it: one KL 4 consultation, advised against.
    page.goto(f"{live_server.url}/consultations/")
    table = page.get_by_role("region", name=f"Decisions by KL grade, {patient.clinic.name}")
    # Consultations, proceeded, advised against, undecided, the share advised against.
    expect(table.get_by_role("row", name=re.compile(r"^4 ")).get_by_role("cell")).to_have_text(
        ["1", "0", "1", "0", "100.0%"]
    )
    expect(table.get_by_role("row", name=re.compile(r"^2 ")).get_by_role("cell")).to_have_text(
        ["0", "0", "0", "0", "—"]
    )
    expect(page.locator("section", has=page.get_by_role("heading", name="Recent consultations"))).to_contain_text(
        patient.registry_number
    )
    screenshot(page, "consultation-list")


@pytest.fixture
def treated_knees(clinic, clinician):
    """14 BMAC knees, KL 2, aged 66, long past their 6-month questionnaire: 9 improved, 3 worse, 2 never answered."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9 + [(BEFORE, WORSE)] * 3 + [(BEFORE, None)] * 2, timepoint="6m")
    plan_outcomes.refresh()


def test_a_consultation_that_proceeds_then_the_injection_on_a_phone(
    phone_page, live_server, sign_in, clinician, patient, treated_knees
):
    page = sign_in(phone_page, clinician, PASSWORD)
    open_new_consultation(page, live_server, patient)
    no_sideways_scroll(page)
    choose(page, "knee", "right")
    fill(page, consulted_on=timezone.localdate().isoformat(), kl_grade="2", bmi="27.5", alignment_degrees="3")
    choose(page, "bmi_status", "measured")
    choose(page, "alignment", "varus")
    choose(page, "smoking", "former")
    choose(page, "indications", "pain_despite_exercise", "early_oa", "realistic_expectations")
    choose(page, "alternatives_discussed", "exercise", "weight", "prp")
    fill(page, reasoning="Medial pain despite four months of supervised exercise.")
    choose(page, "decision", "proceed")
    choose(page, "proposed_product", "bmac")
    expect(page.locator('[name="review_after_months"]')).to_have_value("6")  # the default review point
    expect(page.locator('[name="not_improved_rule"]')).to_have_value("mcid_or_responder")  # the default rule
    choose(page, "fallback_offer", "physiotherapy", "repeat_injection")
    page.get_by_role("button", name="Save consultation").click()

    expect(page.get_by_role("heading", level=1, name="Consultation, right knee")).to_be_visible()
    consultation = Consultation.objects.get()
    decision = page.locator("section", has=page.get_by_role("heading", name="Decision", exact=True))
    expect(decision).to_contain_text("Proceed with an injection")
    expect(decision).to_contain_text("BMAC")
    fallback = page.locator("section", has=page.get_by_role("heading", name="Fallback plan"))
    expect(fallback).to_contain_text("6 months after the injection")
    expect(fallback).to_contain_text("Physiotherapy; Repeat injection")

    # Knees like this one: the registry's 14 BMAC knees, as the service works them out for this consultation.
    expected = consultation_expectation(consultation, clinician)
    [bmac] = [o for o in expected["options"] if o["product"] == "bmac"]
    assert bmac["enough"]
    assert bmac["heard_back"]["n"] == 12
    option = page.locator('[data-testid="expectation-option"][data-product="bmac"]')
    expect(option).to_contain_text(f"{bmac['heard_back']['n_text']} of {bmac['heard_back']['N_text']}")
    expect(option).not_to_contain_text("Not enough data")
    expect(page.locator("#expectation")).to_contain_text("at 6 months")
    no_sideways_scroll(page)
    screenshot(page, "consultation-proceed-phone")

    page.get_by_role("link", name="Record the injection").click()
    # The consultation's factors and product carried over, not typed twice.
    expect(page.locator('[name="knee"][value="right"]')).to_be_checked()
    expect(page.locator('[name="kl_grade"]')).to_have_value("2")
    expect(page.locator('[name="bmi"]')).to_have_value("27.5")
    expect(page.locator('[name="alignment_degrees"]')).to_have_value(re.compile(r"^3(\.0)?$"))
    expect(page.locator('[name="product"]')).to_have_value("bmac")
    screenshot(page, "injection-from-consultation-phone")
    fill(page, injected_on=timezone.localdate().isoformat(), volume_ml="6")
    choose(page, "guidance", "ultrasound")
    choose(page, "rehabilitation", "home")
    for key, value in BMAC_PROTOCOL.items():
        field = page.locator(f'[name="bmac-{key}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))
    page.get_by_role("button", name="Record injection", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.registry_number)  # back on the patient
    injection = Injection.objects.get(patient=patient)
    expect(page.get_by_text(f"Recorded {injection}.")).to_be_visible()
    assert (injection.kl_grade, str(injection.bmi), injection.product, injection.knee) == (2, "27.5", "bmac", "right")
    page.goto(f"{live_server.url}/consultations/{consultation.pk}/")
    link = page.get_by_role("link", name=re.compile("^Recorded: "))
    expect(link).to_have_attribute("href", f"/injections/{injection.pk}/")
    expect(page.get_by_role("link", name="Record the injection")).to_have_count(0)
    no_sideways_scroll(page)
    screenshot(page, "consultation-with-injection-phone")

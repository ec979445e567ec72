"""Fallback paths (issue 16) in a browser: a clinician follows the link from the outcomes dashboard to the fallback
paths page on a phone and reads the reviews and the repeat course's outcome; an auditor downloads the consultations
export from the export page and it holds the clinic's consultations, pseudonymised. Every page is checked by
axe-core (page_auditor) and photographed (page_problems' screenshots)."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from playwright.sync_api import expect

from consultations.models import Consultation
from outcomes.analysis import plan_outcomes
from registry.models import TreatmentPlan
from tests.consultations.factories import advise_against, make_consultation, make_review
from tests.e2e.checks import assert_no_sideways_scroll, page_problems
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD, PatientFactory
from tests.outcomes.analysis_data import make_plan

NOW = time_machine.travel(dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def paths_data(clinic, clinician):
    """A BMAC course that did not help (KOOS Pain +5), reviewed, and its repeat (+15); two consultations."""
    with NOW:
        ann = PatientFactory(clinic=clinic, full_name="Ann Hiddenname")
        first = make_plan(
            clinic, clinician, patient=ann, scores={"baseline": {"pain": 40, "oks": 20}, "6m": {"pain": 45, "oks": 22}}
        )
        make_review(
            first, clinician, offered=["repeat_injection"], offered_product="bmac", path_taken="repeat_injection"
        )
        repeat = make_plan(
            clinic,
            clinician,
            patient=ann,
            injected_on=dt.date(2026, 9, 20),
            scores={"baseline": {"pain": 45, "oks": 22}, "6m": {"pain": 60, "oks": 30}},
        )
        TreatmentPlan.objects.filter(pk=repeat.pk).update(repeat_of=first)
        proceeded = make_consultation(ann, clinician)
        against = make_consultation(PatientFactory(clinic=clinic, full_name="Bob Hiddenname"), clinician,
                                    **advise_against(consulted_on=dt.date(2026, 2, 21)))  # fmt: skip
    plan_outcomes.refresh()
    return {"ann": ann, "consultations": [proceeded, against]}


def test_clinician_reads_the_fallback_paths_on_a_phone(phone_page, live_server, sign_in, clinician, paths_data):
    page = phone_page
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/")
    page.get_by_role("link", name="Fallback paths").click()
    expect(page.get_by_role("heading", level=1, name="Fallback paths")).to_be_visible()
    reviews = page.get_by_test_id("paths-table")
    expect(reviews).to_contain_text("KL grade 0-2 (early)")
    repeats = page.get_by_test_id("repeats-table")
    expect(repeats).to_contain_text("1 of 1 (100%; 95% CI 21–100%)")  # the repeat's KOOS Pain: +15
    assert_no_sideways_scroll(page, PHONE["width"])  # tables scroll in their box
    assert page_problems(page, "fallback-paths-phone", layout_only=True) == []


def test_auditor_downloads_the_consultations_export(page, live_server, sign_in, auditor, paths_data):
    sign_in(page, auditor, PASSWORD)
    page.goto(f"{live_server.url}/exports/adverse-events/")
    section = page.get_by_role("region", name="Consultations and fallback reviews")
    section.get_by_label("On or after").fill("2026-02-01")
    with page.expect_download() as info:
        section.get_by_role("button", name="Download consultations (CSV)").click()
    with open(info.value.path(), "rb") as file:
        raw = file.read()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    expected = sorted(c.pk for c in paths_data["consultations"])
    assert sorted(int(r["consultation_id"]) for r in rows) == expected
    assert {r["decision"] for r in rows} == {"proceed", "advise_against"}
    assert paths_data["ann"].registry_number in {r["registry_number"] for r in rows}
    assert b"Hiddenname" not in raw
    assert Consultation.objects.count() == len(rows)
    page.reload()  # the export log now lists it
    expect(page.get_by_role("region", name="Export log table")).to_contain_text("export=consultations")
    assert page_problems(page, "export-page-with-consultations") == []

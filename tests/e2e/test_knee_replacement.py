"""A clinician opens "Time to knee replacement" from the dashboard on a desktop and a phone: the step chart draws,
the table reads, nothing is wider than the screen, and axe-core finds nothing (the watched pages audit themselves)."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from outcomes.models import FurtherTreatment
from tests.e2e.test_dashboard import assert_charts_drawn
from tests.factories import PASSWORD
from tests.outcomes.analysis_data import make_plan


@pytest.fixture
def registry(clinic, clinician):
    """Twelve BMAC plans followed to 12 months, one knee replaced in August 2026."""
    for _ in range(11):
        make_plan(clinic, clinician, scores={"12m": {"pain": 60}})
    plan = make_plan(clinic, clinician, scores={"6m": {"pain": 30}})
    FurtherTreatment.objects.create(
        patient=plan.patient,
        plan=plan,
        knee=plan.knee,
        kind="total_knee_replacement",
        month=dt.date(2026, 8, 1),
        reported_by_patient=True,
    )


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
def test_time_to_knee_replacement_page(new_page, live_server, sign_in, clinician, registry, viewport):
    page = new_page(viewport=viewport)
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/")
    page.get_by_role("link", name="Time to knee replacement").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Time to knee replacement", level=1)).to_be_visible()
    expect(page.get_by_test_id("km-table")).to_contain_text("11 at risk")
    assert_charts_drawn(page, {"survival"})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1

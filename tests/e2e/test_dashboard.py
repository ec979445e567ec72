"""A clinician opens the outcomes dashboard, filters it, and reads a patient's trajectory, on a desktop and a
phone. The charts must actually draw: canvases with a size and with ink on them, not just present.

Screenshots go to a temporary folder (or to $E2E_SCREENSHOT_DIR, to look at them)."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, PatientFactory
from tests.outcomes.analysis_data import make_plan
from tests.outcomes.test_analysis_statistics import scores

DESKTOP = {"width": 1280, "height": 900}

# Per canvas: its CSS size and how many of its pixels are not transparent.
CANVAS_INK = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) ink++;
  return {chart: c.dataset.chart, width: c.clientWidth, height: c.clientHeight, ink: ink};
})"""


@pytest.fixture
def registry(clinic, clinician):
    """Ten plans: BMAC and PRP, KL 2 and 3, most with scores at every timepoint."""
    patients = []
    for i in range(10):
        patient = PatientFactory(clinic=clinic, year_of_birth=1950 + i)
        patients.append(patient)
        prp = {"product": "prp", "protocol": {"leukocytes": "poor", "spins": 2, "activation": "none"}}
        product = prp if i % 3 == 2 else {}
        make_plan(
            clinic,
            clinician,
            patient=patient,
            kl_grade=2 + i % 2,
            scores={
                "baseline": scores(35 + i, 45, 65 - i, 18, 60),
                "1m": scores(50 + i, 55, 45 - i, 26, 45),
                "6m": scores(60 + 2 * i, 70, 30, 34, 30) if i < 7 else None,
            },
            statuses={"6m": "missed"},
            **product,
        )
    return patients


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def assert_charts_drawn(page, expected: set[str]):
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-drawn]').length > 0")
    canvases = page.evaluate(CANVAS_INK)
    assert {c["chart"] for c in canvases} >= expected
    for canvas in canvases:
        assert canvas["width"] > 0, canvas
        assert canvas["height"] > 0, canvas
        assert canvas["ink"] > 500, canvas  # axes, lines, bars: not a blank canvas


def dashboard_journey(page, live_server, sign_in, clinician, registry, shots, name):
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/")
    expect(page.get_by_role("heading", name="Outcomes dashboard", level=1)).to_be_visible()
    expect(page.get_by_test_id("plans-count")).to_have_text("10")
    assert_charts_drawn(page, {"funnel", "change", "responders"})

    page.get_by_label("Product", exact=True).select_option("bmac")
    page.get_by_label("Compare groups by").select_option("kl_grade")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("plans-count")).to_have_text("7")
    assert "product=bmac" in page.url
    assert_charts_drawn(page, {"funnel", "change", "responders"})
    # The change chart's table follows the chosen measure.
    page.locator("[data-measure-select]").select_option("vas_pain")
    visible = page.locator("[data-measure-table] tbody tr:visible")
    expect(visible.first).to_contain_text("VAS pain")
    page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
    for i, pair in enumerate(page.locator(".chart-pair").all()):
        pair.screenshot(path=str(shots / f"dashboard-{name}-chart-{i}.png"))
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1  # wide tables scroll inside their own box, the page does not

    patient = registry[0]
    page.goto(f"{live_server.url}/patients/{patient.registry_number}/trajectory/")
    expect(page.get_by_role("heading", name="Left knee")).to_be_visible()
    assert_charts_drawn(page, {"trajectory"})
    page.screenshot(path=str(shots / f"trajectory-{name}.png"), full_page=True)


def test_dashboard_and_trajectory_on_a_desktop(new_page, live_server, sign_in, clinician, registry, shots):
    dashboard_journey(new_page(viewport=DESKTOP), live_server, sign_in, clinician, registry, shots, "desktop")
    assert (shots / "dashboard-desktop.png").stat().st_size > 10_000


def test_dashboard_and_trajectory_on_a_phone(phone_page, live_server, sign_in, clinician, registry, shots):
    dashboard_journey(phone_page, live_server, sign_in, clinician, registry, shots, "phone")
    assert (shots / "trajectory-phone.png").stat().st_size > 10_000


# Per change chart: the y-scale's bounds, and every value of the confidence-band datasets.
CHANGE_CHART = """() => {
  const chart = Chart.getChart(document.querySelector('canvas[data-chart=change]'));
  const band = chart.data.datasets.filter(d => d.band).flatMap(d => d.data).filter(v => v !== null);
  return {min: chart.scales.y.min, max: chart.scales.y.max, band: band, top: chart.chartArea.top,
          bottom: chart.chartArea.bottom};
}"""


@pytest.fixture
def wide_interval(clinic, clinician):
    """Two plans whose changes differ by 80 points: a 95% CI from n=2 (t = 12.7) spans hundreds of points, far
    beyond what a 0-100 score can change by."""
    for change in (40, -40):
        make_plan(
            clinic,
            clinician,
            scores={
                "baseline": scores(50, 50, 50, 24, 50),
                "1m": scores(50 + change, 50 + change, 50 - change, 24 + change // 2, 40),
            },
        )


def test_the_confidence_band_stays_on_the_chart(new_page, live_server, sign_in, clinician, wide_interval):
    page = new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/")
    assert_charts_drawn(page, {"change"})
    limits = {
        m["key"]: m["max_change"]
        for m in page.evaluate("JSON.parse(document.getElementById('dashboard-data').textContent).change.measures")
    }
    assert limits["oks_total"] == 48
    assert limits["koos_pain"] == 100
    # The two plans answered at baseline and 1 month only: no knee is scored at every timepoint, so the default
    # (same knees) draws no line; all available knees show the wide interval.
    assert page.evaluate(CHANGE_CHART)["band"] == []
    page.locator("[data-knees-select]").select_option("all")
    for measure in ("koos_pain", "koos_adl", "vas_pain", "oks_total"):  # the measures the two plans were scored on
        limit = limits[measure]
        page.locator("[data-measure-select]").select_option(measure)
        chart = page.evaluate(CHANGE_CHART)
        assert chart["band"], measure  # the wide interval is drawn
        assert chart["min"] >= -limit, (measure, chart["min"])
        assert chart["max"] <= limit, (measure, chart["max"])
        assert all(chart["min"] <= v <= chart["max"] for v in chart["band"]), (measure, chart)


def test_tables_beside_charts_are_never_cut_off_on_a_laptop(new_page, live_server, sign_in, clinician, registry):
    page = new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, clinician, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/?compare_by=product")
    cut = page.eval_on_selector_all(
        ".table-wrap",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.getAttribute('aria-labelledby'))",
    )
    assert cut == []

"""The Content-Security-Policy must not break the pages it protects: a blocked inline script or style fails
silently for the user (a questionnaire whose "Next" does nothing). The browser reports every violation as a
`securitypolicyviolation` event; these journeys collect them and must end with none."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outcomes.models import FollowUp, Timepoint
from outcomes.services import link_create
from tests.factories import PASSWORD, make_injection

COLLECT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile, line: e.lineNumber}
));
"""


@pytest.fixture
def watched(phone_page):
    phone_page.add_init_script(COLLECT)
    return phone_page


def violations(page) -> list:
    return page.evaluate("window.__csp")


def test_the_collector_sees_a_violation(watched, live_server):
    """The check below would pass vacuously if the collector saw nothing: an injected inline script must show."""
    watched.goto(f"{live_server.url}/accounts/login/")
    watched.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1'; "
        "document.body.appendChild(s); }"
    )
    watched.wait_for_function("() => window.__csp.length > 0")
    assert violations(watched)[0]["directive"].startswith("script-src")


def test_the_questionnaire_and_its_thanks_page_run_under_the_policy(watched, live_server, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=timezone.localdate() - dt.timedelta(days=33))
    follow_up = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
    watched.goto(f"{live_server.url}/q/{link_create(follow_up=follow_up)}/")
    # The page's own script ran: it splits the questionnaire into sections and counts them.
    expect(watched.locator("#q-progress-label")).to_have_text("Section 1 of 6")
    watched.locator('input[name="KOOS.S1"][value="1"]').check()
    assert violations(watched) == []
    watched.goto(f"{live_server.url}/q/thanks/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Thank you, your answers have been sent")
    assert violations(watched) == []


def test_staff_pages_with_charts_run_under_the_policy(watched, live_server, clinician, sign_in):
    sign_in(watched, clinician, PASSWORD)
    for path in ("/attention/", "/dashboard/outcomes/", "/patients/", "/adverse-events/"):
        response = watched.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        watched.wait_for_load_state("networkidle")
        assert violations(watched) == [], path

"""A patient treated in both knees today gets one email on their phone listing both baseline questionnaires, each
labelled with its knee and injection day; each link opens that knee's questionnaire (saying which knee and that a
baseline asks about the days before the injection), and each thanks page names the knee. Every page is checked by
axe-core (page_auditor), the email itself too, and nothing scrolls sideways at 390 px."""

import re

import pytest
from django.core import mail
from django.utils import dateformat, timezone
from playwright.sync_api import expect

from notifications.services import followups_sweep, messages_send
from outcomes.models import FollowUp, FollowUpStatus, Submission, Timepoint
from outcomes.services import draft_save
from tests.e2e.checks import assert_no_sideways_scroll, axe_violations, describe_violations
from tests.factories import make_injection, questionnaire_data
from tests.safety.ae_support import PRP_PROTOCOL


@pytest.fixture
def both_knees(patient, clinician, settings):
    settings.NOTIFICATIONS_SENDING_HOURS = "00:00-24:00"  # whatever hour the test runs
    today = timezone.localdate()
    injections = [
        make_injection(patient, clinician, knee="left", injected_on=today),
        make_injection(patient, clinician, knee="right", injected_on=today, product="prp", protocol=dict(PRP_PROTOCOL)),
    ]
    baselines = [FollowUp.objects.get(plan=i.plan, timepoint=Timepoint.BASELINE) for i in injections]
    for baseline in baselines:
        # Everything answered but the last section, as if the patient had started on another day (a saved draft).
        draft_save(follow_up=baseline, data=questionnaire_data(baseline))
    followups_sweep(dispatch=lambda ids, claim: messages_send(ids, claim=claim))
    day = dateformat.format(today, "j F Y")
    return baselines, day


def _no_sideways_scroll(page):
    assert_no_sideways_scroll(page, 390)


def test_one_email_two_labelled_links_both_questionnaires_on_a_phone(phone_page, live_server, settings, both_knees):
    baselines, day = both_knees
    (email,) = mail.outbox
    assert email.subject.endswith("about both your knees")
    html = email.alternatives[0][0].replace(settings.SITE_URL, live_server.url)

    page = phone_page
    page.set_content(html)
    # WCAG rules only: page-structure best practices (one <main>, a level-one heading) are a mail client's, not
    # the message's.
    violations = [v for v in axe_violations(page) if "best-practice" not in v["tags"]]
    assert not violations, describe_violations(violations)
    _no_sideways_scroll(page)
    for knee in ("left", "right"):
        expect(page.get_by_text(f"About your {knee} knee, injected on {day}")).to_be_visible()

    for knee, baseline in zip(("left", "right"), baselines, strict=True):
        # Each link from the email, in a tab of its own (the previous page's audit is still running).
        page = phone_page.context.new_page()
        page.set_content(html)
        page.get_by_role("link", name=f"Start the questionnaire about your {knee} knee").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Your {knee} knee questionnaire")
        expect(page.get_by_text(f"About your {knee} knee, injected on {day}.")).to_be_visible()
        expect(page.get_by_text("Before your injection")).to_be_visible()
        expect(page.get_by_text("please answer about how your knee was in the days before it")).to_be_visible()
        _no_sideways_scroll(page)
        send = page.get_by_role("button", name="Send my answers")
        while not send.is_visible():
            page.get_by_role("button", name="Next").filter(visible=True).click()
        send.click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/q/thanks/\?s="))
        expect(page.get_by_text(f"Your answers about your {knee} knee, injected on {day}.")).to_be_visible()
        _no_sideways_scroll(page)
        baseline.refresh_from_db()
        assert baseline.status == FollowUpStatus.COMPLETED
        assert Submission.objects.filter(follow_up=baseline).exists()

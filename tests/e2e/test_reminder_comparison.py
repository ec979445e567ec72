"""A clinic lead, on a 390 px phone, starts a reminder comparison from the dashboard (text on day 7 or not), patients
are enrolled and allocated, and the lead reads completion per arm with the difference and its interval; then stops
it. Every page is audited by axe-core (the watched pages audit themselves) and is never wider than the screen."""

import datetime as dt

from playwright.sync_api import expect

from outcomes.models import ComparisonArm, FollowUp, FollowUpStatus, ReminderComparison, Timepoint
from registry.services import patient_enrol
from tests.factories import PASSWORD, make_injection


def no_overflow(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1


def test_the_lead_starts_a_comparison_and_reads_the_results_on_a_phone(phone_page, live_server, sign_in, clinic, lead):
    page = phone_page
    sign_in(page, lead, PASSWORD)
    page.goto(f"{live_server.url}/dashboard/outcomes/")
    page.get_by_role("link", name="Reminder comparisons").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Reminder comparisons", level=1)).to_be_visible()
    page.get_by_role("link", name="Start a comparison").click()
    page.wait_for_load_state()
    no_overflow(page)
    page.get_by_label("The question, in plain words").fill("Does a text on day 7 help more patients answer?")
    page.get_by_label("Arm A: text on days").fill("7")
    page.get_by_label("Arm B: send text reminders").set_checked(False)
    page.get_by_role("button", name="Start the comparison").click()
    page.wait_for_load_state()
    comparison = ReminderComparison.objects.get()
    assert comparison.arm_a.text_reminder_days == [7]
    assert not comparison.arm_b.text_reminders
    expect(page.get_by_test_id("not-clinical")).to_contain_text("Not a clinical comparison")

    # Patients enrolled now are allocated; their 1-month questionnaires are answered or missed.
    for i in range(6):
        patient = patient_enrol(
            clinic=clinic,
            by=lead,
            data={
                "full_name": f"Phone Patient {i}",
                "email": f"phone{i}@example.org",
                "year_of_birth": 1960,
                "sex": "female",
                "consent_on": dt.date(2026, 1, 5),
                "consent_version": "v1.0",
            },
        )
        make_injection(patient, lead, injected_on=dt.date(2026, 3, 2))
        done = FollowUpStatus.COMPLETED if patient.reminder_allocation.arm == ComparisonArm.A else FollowUpStatus.MISSED
        FollowUp.objects.filter(patient=patient, timepoint=Timepoint.ONE_MONTH).update(status=done)
    arm_a = comparison.allocations.filter(arm=ComparisonArm.A).count()
    arm_b = 6 - arm_a
    assert arm_a >= 1
    assert arm_b >= 1  # permuted blocks: the first six patients hold both arms
    page.reload()
    page.wait_for_load_state()
    row = page.locator("[data-testid=completion] tr[data-timepoint='1m']")
    expect(row).to_contain_text("100.0%")
    expect(row).to_contain_text(f"{arm_a} of {arm_a}")
    expect(row).to_contain_text(f"0 of {arm_b}")
    expect(page.get_by_test_id("arms")).to_contain_text("Text reminders on day 7")
    no_overflow(page)

    page.get_by_label("Why it stops").fill("Enough patients")
    page.get_by_role("button", name="Stop the comparison").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Stopped on")).to_be_visible()
    comparison.refresh_from_db()
    assert comparison.stop_reason == "Enough patients"
    no_overflow(page)

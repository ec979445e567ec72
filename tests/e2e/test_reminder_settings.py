"""A clinic lead, on a 390 px phone, opens the clinic's reminder settings from the reminder comparisons page, changes
the text reminder days and the daily text limit with a reason, and sees the change in the page's history. The
page is audited by axe-core and never scrolls sideways."""

from playwright.sync_api import expect

from outcomes.models import ReminderStrategy
from registry.models import Clinic
from tests.e2e.checks import assert_no_sideways_scroll
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD


def test_the_lead_changes_the_text_days_and_a_limit_on_a_phone(phone_page, live_server, sign_in, clinic, lead):
    page = phone_page
    sign_in(page, lead, PASSWORD)
    page.goto(f"{live_server.url}/reminder-comparisons/")
    page.get_by_role("link", name=f"Reminder settings: {clinic.name}").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Reminder settings", level=1)).to_be_visible()
    assert_no_sideways_scroll(page, PHONE["width"])

    # A mistake first: the error summary says what is wrong and nothing is saved.
    page.get_by_label("Text on days").fill("7, 7")
    page.get_by_label("Why you are changing them").fill("Second text sooner")
    page.get_by_role("button", name="Save the settings").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("error-summary")).to_contain_text("Give each day once.")
    assert_no_sideways_scroll(page, PHONE["width"])
    assert not ReminderStrategy.objects.filter(clinic=clinic).exists()

    page.get_by_label("Text on days").fill("5, 10")
    page.get_by_label("Most patient text messages in one day").fill("250")
    page.get_by_role("button", name="Save the settings").click()
    page.wait_for_load_state()
    expect(page.get_by_text("The reminder settings are saved.")).to_be_visible()
    expect(page.get_by_test_id("current-settings")).to_contain_text("Text reminders on day 5 and 10")
    changes = page.get_by_test_id("changes")
    expect(changes).to_contain_text("Second text sooner")
    expect(changes).to_contain_text("Most patient text messages in one day: No limit → 250")
    assert_no_sideways_scroll(page, PHONE["width"])

    assert ReminderStrategy.objects.get(clinic=clinic, is_clinic_default=True).text_reminder_days == [5, 10]
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 250

"""The demo's mailbox in a real browser (administrators only): a link inside a sandboxed HTML email opens, outside the
sandbox; a clinician is refused."""

import re

from django.core import mail
from playwright.sync_api import expect

from tests.factories import PASSWORD


def test_an_administrator_opens_a_link_from_an_html_email(page, live_server, sign_in, admin_user, settings, tmp_path):
    settings.EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"
    settings.MAILBOX_DIR = tmp_path
    link = f"{live_server.url}/accounts/login/?from=mailbox"
    message = mail.EmailMultiAlternatives("Your knee questionnaire", f"Open {link}", to=["patient@example.org"])
    message.attach_alternative(f'<p>Please answer.</p><a href="{link}">Start the questionnaire</a>', "text/html")
    message.send()

    sign_in(page, admin_user, PASSWORD)
    page.goto(f"{live_server.url}/dev/mailbox/")
    expect(page.get_by_text("Your knee questionnaire")).to_be_visible()
    email = page.frame_locator("iframe[sandbox]")
    expect(email.get_by_text("Please answer.")).to_be_visible()
    with page.context.expect_page() as opened:
        email.get_by_role("link", name="Start the questionnaire").click()
    expect(opened.value).to_have_url(re.compile(r"/accounts/login/\?from=mailbox$"))


def test_a_clinician_is_refused_the_mailbox(page, live_server, sign_in, clinician, settings, tmp_path):
    settings.EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"
    settings.MAILBOX_DIR = tmp_path
    mail.EmailMessage("Your knee questionnaire", "Open https://example.org/q/abc", to=["patient@example.org"]).send()
    sign_in(page, clinician, PASSWORD)
    response = page.goto(f"{live_server.url}/dev/mailbox/")
    assert response.status == 403
    expect(page.get_by_text("Your knee questionnaire")).to_have_count(0)

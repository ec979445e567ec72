"""The sign-in pages before anyone is signed in, on a desktop and a phone: the password page (and its error), the
pause after too many wrong passwords, the code page of a user with an authenticator (and its error), enrolment
with its QR code (and its error) and the backup codes it ends on. Each must pass axe-core, fit the screen and
show nothing drawn over its neighbour (tests/e2e/checks.py). Screenshots: var/e2e-screenshots/sign-in-*.jpg."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.e2e.checks import page_problems
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD
from tests.security.conftest import current_code

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": PHONE}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def submit_password(page, live_server, user, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_sign_in_and_second_factor_pages(viewport, unwatched_page, live_server, clinician, lead, outsider):
    page = unwatched_page(viewport=VIEWPORTS[viewport])
    failures = []

    def look(name):
        failures.extend(f"{name}: {p}" for p in page_problems(page, f"sign-in-{viewport}-{name}"))

    page.goto(f"{live_server.url}/accounts/login/")
    look("password")
    submit_password(page, live_server, clinician, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    look("password-wrong")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        submit_password(page, live_server, outsider, "not-the-password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many failed sign-in attempts")
    look("locked-out")

    TOTPDevice.objects.create(user=lead, name="phone", confirmed=True)
    submit_password(page, live_server, lead, PASSWORD)
    expect(page.get_by_role("textbox", name="Code")).to_be_visible()
    look("code")
    page.get_by_role("textbox", name="Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not valid")).to_be_visible()
    look("code-wrong")

    page.context.clear_cookies()
    submit_password(page, live_server, clinician, PASSWORD)
    page.goto(f"{live_server.url}/accounts/two-factor/setup/")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    look("enrol")
    page.get_by_role("textbox", name="Code").fill("000000")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_text("That code did not match")).to_be_visible()
    look("enrol-wrong")
    device = TOTPDevice.objects.get(user=clinician)
    device.throttle_reset()  # django-otp pauses a device for a second after a wrong code; not what this tests
    page.get_by_role("textbox", name="Code").fill(current_code(device))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    look("backup-codes")
    assert not failures, "\n".join(failures)

"""Browser tests: Playwright driving Debian's chromium (apt-get install chromium) against live_server.

Playwright's own browser download cannot work on these machines, so the launch is pointed at /usr/bin/chromium.
Without it every test here skips with "needs service: chromium ...", which fails the run in CI.
"""

import os
import shutil
from pathlib import Path

import pytest

# live_server + page run Django from Playwright's event-loop thread; without this: SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E_DIR = Path(__file__).resolve().parent
PHONE = {"width": 390, "height": 844}


def chromium_missing() -> str | None:
    if CHROMIUM.exists() or shutil.which(str(CHROMIUM)):
        return None
    return f"needs service: chromium not found at {CHROMIUM} (apt-get install chromium; never `playwright install`)"


def pytest_collection_modifyitems(config, items):
    # A marker, not a fixture: the session-scoped browser would otherwise try to launch before any skip.
    reason = chromium_missing()
    for item in items:
        if E2E_DIR in Path(item.path).parents or Path(item.path).parent == E2E_DIR:
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture
def phone_page(browser):
    """A page the size of a phone (390x844, touch), for the layouts clinicians use between patients."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(live_server):
    def sign_in(page, user, password):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        return page

    return sign_in

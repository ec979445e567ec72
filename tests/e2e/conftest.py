"""Browser tests: Playwright driving Debian's chromium (apt-get install chromium) against live_server.

Playwright's own browser download cannot work on these machines, so the launch is pointed at /usr/bin/chromium.
Without it every test here skips with "needs service: chromium ...", which fails the run in CI.

Every page a journey shows is checked by axe-core before the browser leaves it (`page_auditor`, tests/e2e/
checks.py): a test whose pages have an accessibility violation fails, whatever it came to test. Contexts come
from the fixtures below (`page`, `phone_page`, `new_page`), which all watch their pages.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.checks import PageAuditor

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
def page_auditor():
    """Collects axe-core's findings on every page the test's contexts show; the test fails on any."""
    auditor = PageAuditor()
    yield auditor
    report = auditor.report()
    if report:
        pytest.fail(f"accessibility violations (axe-core, WCAG 2.2 A/AA and best practices):\n{report}")


@pytest.fixture
def new_page(browser, page_auditor):
    """new_page(**context options): a page in its own watched context, closed (after its audit) at the end."""
    contexts = []

    def make(**options):
        context = page_auditor.watch(browser.new_context(**options))
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        page_auditor.close(context)


@pytest.fixture
def unwatched_page(browser):
    """unwatched_page(**context options): for tests that check each page themselves (tests/e2e/checks.py:
    page_problems), once it has finished drawing, rather than on "load"."""
    contexts = []

    def make(**options):
        contexts.append(browser.new_context(**options))
        return contexts[-1].new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_page):
    """pytest-playwright's `page` comes from here: a watched context."""
    return new_page().context


@pytest.fixture
def phone_page(new_page):
    """A page the size of a phone (390x844, touch), for the layouts clinicians use between patients."""
    return new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


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

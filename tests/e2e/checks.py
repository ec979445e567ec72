"""What every page a user can reach must pass in a real browser: axe-core's WCAG 2.x A/AA rules (and its best
practices: landmarks, heading order), no sideways scrolling, and no element drawn over its neighbour.

axe-core comes with the axe-playwright-python package (it bundles axe.min.js); it is evaluated through the
DevTools protocol, so the pages' Content-Security-Policy does not stand in its way.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Error as PlaywrightError

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices (landmarks, one h1, heading order, regions).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
_axe = Axe()

_LAYOUT_JS = (Path(__file__).parent / "layout_problems.js").read_text().splitlines()
LAYOUT_PROBLEMS = "\n".join(line for line in _LAYOUT_JS if not line.startswith("//"))


# The rules whose outcome depends on the layout: for a second look at a page, at another width, after the whole
# set has run on it once (colour contrast, by far the slowest rule, does not change with the viewport here).
LAYOUT_RULES = ["target-size", "scrollable-region-focusable", "meta-viewport", "css-orientation-lock"]


def axe_violations(page, *, layout_only: bool = False) -> list[dict]:
    """axe-core's violations on the page as it is now (the whole document)."""
    options = {"runOnly": {"type": "rule", "values": LAYOUT_RULES}, "resultTypes": ["violations"]}
    return _axe.run(page, options=options if layout_only else AXE_OPTIONS).response["violations"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())[:240]
            lines.append(f"      {', '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def layout_problems(page) -> list[str]:
    return page.evaluate(LAYOUT_PROBLEMS)


def screenshot_dir() -> Path:
    """Artefacts to look at after a run (never committed): $E2E_SCREENSHOT_DIR, or var/e2e-screenshots/."""
    folder = Path(os.environ.get("E2E_SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "var" / "e2e-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """The page as a JPEG (several times faster to write than a PNG of a long page)."""
    path = screenshot_dir() / (re.sub(r"[^\w.-]+", "-", name).strip("-") + ".jpg")
    page.screenshot(path=str(path), full_page=full_page, type="jpeg", quality=60)
    return path


# Runs in every top-level document of a watched context (an init script: the DevTools protocol, not the page's
# CSP): axe-core checks the page once it has loaded and hands the result to Python through a binding.
_AUDIT_ON_LOAD = """
(() => {
  if (window.top !== window || !location.protocol.startsWith('http')) return;
  addEventListener('load', () => {
    axe.run(document, %s)
      .then(r => window.__auditReport(location.href, r.violations, null))
      .catch(e => window.__auditReport(location.href, [], String(e)));
  }, {once: true});
})();
"""


def page_problems(page, name: str, *, layout_only: bool = False) -> list[str]:
    """Everything wrong with the page as it is now, as sentences ([] when nothing), and its screenshot."""
    problems = [f"layout: {p}" for p in layout_problems(page)]
    if "[invalid name]" in page.content():
        problems.append('a label reads "[invalid name]"')
    violations = axe_violations(page, layout_only=layout_only)
    if violations:
        problems.append("axe-core:\n" + describe_violations(violations))
    screenshot(page, name, full_page=not layout_only)  # a second look: its first screen is enough
    return problems


@dataclass
class PageAuditor:
    """Runs axe-core on every page a watched browser context shows, before the browser may leave it.

    A journey moves on as soon as its next click lands, often before an audit could finish. So each page audits
    itself on "load", and a request for the next page is held (context.route) until that audit has reported;
    nothing blocks the test's own thread. `close()` waits for the last page's audit, then closes the context.
    """

    findings: list[str] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    _waiting: dict = field(default_factory=dict)  # page -> requests for its next document, held
    _pending: set = field(default_factory=set)  # pages whose current document has not reported yet

    def watch(self, context):
        context.add_init_script(_axe.axe_script + _AUDIT_ON_LOAD % json.dumps(AXE_OPTIONS))
        context.expose_binding("__auditReport", self._report)
        context.route("**/*", self._before_request)
        context.on("page", self._track)
        for page in context.pages:
            self._track(page)
        return context

    def _track(self, page):
        page.on("domcontentloaded", lambda p: self._pending.add(p) if p.url.startswith("http") else None)

    def _report(self, source, url, violations, error):
        page = source["page"]
        self.audited.append(url)
        if error:
            self.findings.append(f"{url}\n  axe-core did not run: {error}")
        elif violations:
            self.findings.append(f"{url}\n{describe_violations(violations)}")
        self._pending.discard(page)
        for route in self._waiting.pop(page, []):
            route.fallback()

    def _before_request(self, route):
        request = route.request
        try:
            frame = request.frame
        except PlaywrightError:  # a new window's first request: no page on screen there to audit yet
            route.fallback()
            return
        if request.resource_type == "document" and frame.parent_frame is None and frame.page in self._pending:
            self._waiting.setdefault(frame.page, []).append(route)
        else:
            route.fallback()

    def close(self, context, timeout_ms: float = 30_000):
        """Wait for the audit of what each page shows now, then close the context."""
        for page in context.pages:
            if page in self._pending:
                deadline = timeout_ms
                while page in self._pending and deadline > 0:
                    page.wait_for_timeout(50)
                    deadline -= 50
                if page in self._pending:
                    self.findings.append(f"{page.url}\n  axe-core did not report within {timeout_ms / 1000:.0f} s")
        context.close()

    def report(self) -> str:
        return "\n".join(self.findings)


_WIDEST = """
() => [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return false; }  // inside a scroll box: scrolls there
    return true; })
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > document.documentElement.clientWidth + 1))
  .slice(0, 8)
  .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} `
            + `(right edge ${Math.round(e.getBoundingClientRect().right)}px): `
            + (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 80))
"""


def assert_no_sideways_scroll(page, width: int) -> None:
    """The page fits the viewport's width; if not, the failure names the innermost elements that stick out.

    Measured once the page has loaded: a test that goes on as soon as a heading is visible may otherwise measure
    before the stylesheet applies, when a table is as wide as its unwrapped headers (the fallback paths page
    measured 1296 px then, 390 px after "load"; CI saw 539 and 530 px on two other pages under load)."""
    page.wait_for_load_state("load")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        path = screenshot(page, f"too-wide-{page.url.rsplit('/', 2)[-2]}")
        sticking_out = "\n  ".join(page.evaluate(_WIDEST))
        raise AssertionError(f"{page.url} is {scroll_width}px wide on a {width}px screen ({path}):\n  {sticking_out}")

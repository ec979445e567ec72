"""An export built in the background: its page follows the job in place (no <meta refresh> reloading the page
under a screen reader, WCAG 2.2.1) and offers the download once the job is ready."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from safety.choices import ExportFormat, ExportStatus
from safety.models import ExportJob
from tests.factories import PASSWORD


def test_the_job_page_updates_itself_without_reloading(page, live_server, sign_in, lead):
    job = ExportJob.objects.create(
        requested_by=lead, format=ExportFormat.values[0], status=ExportStatus.RUNNING, progress=40
    )
    sign_in(page, lead, PASSWORD)
    page.goto(f"{live_server.url}/exports/jobs/{job.pk}/")
    expect(page.get_by_role("status")).to_contain_text("40% done")
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    page.evaluate("window.__samePage = true")  # gone if the page reloads

    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.DONE, progress=100, row_count=3, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    expect(page.get_by_role("link", name="Download (3 events)")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("status")).to_contain_text("Ready")
    assert page.evaluate("window.__samePage") is True

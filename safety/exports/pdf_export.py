"""PDFs from HTML templates with WeasyPrint: the governance report and the CIOMS I-style case report.

No JavaScript runs in a PDF, so the chart is an SVG drawn on the server (exports.summary.bar_chart_svg). WeasyPrint
is imported when a PDF is made, not at start-up (it loads pango).
"""

import datetime as dt
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone

from safety import selectors
from safety.exports import cioms
from safety.exports.summary import SummaryRow, bar_chart_svg
from safety.models import AdverseEvent

# A governance report lists serious events in full; a period with more than this many is summarised instead.
MAX_SERIOUS_IN_REPORT = 500


STYLESHEET = Path(__file__).with_name("pdf.css")


def _pdf(html: str, target=None) -> bytes | None:
    # The stylesheet is a file, not a <style> block: templates/ holds only what the pages' CSP allows.
    from weasyprint import CSS, HTML

    return HTML(string=html).write_pdf(target, stylesheets=[CSS(filename=str(STYLESHEET))])


def write_report_pdf(target, *, events, summary: list[SummaryRow], filters_text: str, on_progress=None) -> int:
    """The governance report: period and filters, summary table, chart, serious events with narrative and
    audit trail. Returns the number of events the report covers."""
    total = summary[-1].events if summary else 0
    serious = list(
        events.filter(is_serious=True)
        .select_related("patient", "index_injection", "clinic")
        .prefetch_related("injections")
        .order_by("onset_on", "id")[:MAX_SERIOUS_IN_REPORT]
    )
    cases = []
    for i, event in enumerate(serious, start=1):
        cases.append({"event": event, "trail": selectors.event_trail(event)})
        if on_progress is not None and i % 50 == 0:
            on_progress(i)
    html = render_to_string(
        "safety/exports/report_pdf.html",
        {
            "generated_at": timezone.now(),
            "filters_text": filters_text,
            "summary": summary,
            "chart": bar_chart_svg(summary),
            "cases": cases,
            "serious_total": summary[-1].serious if summary else 0,
            "serious_cut": MAX_SERIOUS_IN_REPORT,
            "total": total,
        },
    )
    _pdf(html, target)
    return total


def cioms_context(event: AdverseEvent) -> dict:
    return cioms.context(event)


def cioms_pdf(event: AdverseEvent) -> bytes:
    return _pdf(render_to_string("safety/exports/cioms_pdf.html", cioms_context(event)))


def period_text(onset_from: dt.date | None, onset_to: dt.date | None) -> str:
    if onset_from and onset_to:
        return f"{onset_from:%d %b %Y} to {onset_to:%d %b %Y}"
    if onset_from:
        return f"from {onset_from:%d %b %Y}"
    if onset_to:
        return f"up to {onset_to:%d %b %Y}"
    return "all dates"

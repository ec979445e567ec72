"""The summary every report starts with: events and rates per 100 injections, by product and seriousness.

Both sides are counted in SQL: events grouped by their index injection's product, and the denominator, the
injections given in the period per product in the exported clinics (safety.selectors.adverse_events).
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from registry.choices import Product
from safety import selectors
from safety.selectors import EventFilters


@dataclass(frozen=True)
class SummaryRow:
    product: str
    label: str
    injections: int
    events: int
    serious: int

    @property
    def non_serious(self) -> int:
        return self.events - self.serious

    @staticmethod
    def _rate(count: int, injections: int) -> float | None:
        return round(100 * count / injections, 2) if injections else None

    @property
    def rate(self) -> float | None:
        """Events per 100 injections (None without injections in the period)."""
        return self._rate(self.events, self.injections)

    @property
    def serious_rate(self) -> float | None:
        return self._rate(self.serious, self.injections)

    @property
    def non_serious_rate(self) -> float | None:
        return self._rate(self.non_serious, self.injections)


def summary_rows(user, filters: EventFilters, events: QuerySet) -> list[SummaryRow]:
    """One row per product with injections or events in the period, then a total row (product "")."""
    counts = selectors.events_by_product_and_seriousness(events)
    denominators = selectors.injections_given_by_product(user, filters)
    products = [p for p in Product.values if p in denominators or (p, True) in counts or (p, False) in counts]
    rows = [
        SummaryRow(
            product=p,
            label=Product(p).label,
            injections=denominators.get(p, 0),
            events=counts.get((p, True), 0) + counts.get((p, False), 0),
            serious=counts.get((p, True), 0),
        )
        for p in products
    ]
    total = SummaryRow(
        product="",
        label="All products",
        injections=sum(r.injections for r in rows),
        events=sum(r.events for r in rows),
        serious=sum(r.serious for r in rows),
    )
    return [*rows, total]


def bar_chart_svg(rows: list[SummaryRow], *, width: int = 640, bar_height: int = 22) -> str:
    """Events per product as an inline SVG bar chart (serious part in red), rendered on the server: PDFs run
    no JavaScript. Returns markup for a template's |safe."""
    from django.utils.html import escape

    data = [r for r in rows if r.product]
    label_width, gap, top = 230, 8, 10
    largest = max((r.events for r in data), default=0) or 1
    scale = (width - label_width - 60) / largest
    height = top * 2 + len(data) * (bar_height + gap) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Adverse events per product" font-family="sans-serif" font-size="11">'
    ]
    for i, row in enumerate(data):
        y = top + i * (bar_height + gap)
        total_w = round(row.events * scale, 1)
        serious_w = round(row.serious * scale, 1)
        parts.append(f'<text x="0" y="{y + bar_height * 0.7}">{escape(row.label[:38])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{total_w}" height="{bar_height}" fill="#6b8fb5"/>')
        if serious_w:
            parts.append(f'<rect x="{label_width}" y="{y}" width="{serious_w}" height="{bar_height}" fill="#a4262c"/>')
        parts.append(
            f'<text x="{label_width + total_w + 6}" y="{y + bar_height * 0.7}">{row.events}'
            f"{f' ({row.serious} serious)' if row.serious else ''}</text>"
        )
    legend_y = height - 8
    parts.append(f'<rect x="{label_width}" y="{legend_y - 9}" width="10" height="10" fill="#6b8fb5"/>')
    parts.append(f'<text x="{label_width + 14}" y="{legend_y}">non-serious</text>')
    parts.append(f'<rect x="{label_width + 100}" y="{legend_y - 9}" width="10" height="10" fill="#a4262c"/>')
    parts.append(f'<text x="{label_width + 114}" y="{legend_y}">serious</text>')
    parts.append("</svg>")
    return "".join(parts)

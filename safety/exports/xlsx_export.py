"""XLSX: a Summary sheet (counts and rates per 100 injections by product and seriousness) and a Detail sheet,
written with openpyxl's write_only mode (rows go straight to the file, not into a workbook in memory)."""

import datetime as dt
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from safety.exports.rows import HEADER, detail_rows
from safety.exports.summary import SummaryRow

SUMMARY_HEADER = [
    "Product",
    "Injections in period",
    "Events",
    "Serious",
    "Non-serious",
    "Events per 100 injections",
    "Serious per 100 injections",
    "Non-serious per 100 injections",
]


def _bold(sheet, values):
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _xlsx_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value  # Excel has no time zones: stored as UTC
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        return "'" + value
    return value


def write_xlsx(target, *, events, summary: list[SummaryRow], filters_text: str, on_progress=None) -> int:
    """Write the workbook to `target` (a path or a binary file); returns the number of detail rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Summary")
    sheet.append(_bold(sheet, ["Adverse events: summary"]))
    sheet.append(["Filters", filters_text])
    sheet.append(["Rates are per 100 injections given in the period (same clinics and product filter)."])
    sheet.append([])
    sheet.append(_bold(sheet, SUMMARY_HEADER))
    for row in summary:
        sheet.append(
            [
                row.label,
                row.injections,
                row.events,
                row.serious,
                row.non_serious,
                row.rate,
                row.serious_rate,
                row.non_serious_rate,
            ]
        )
    detail = workbook.create_sheet("Detail")
    detail.append(_bold(detail, HEADER))
    n = 0
    for row in detail_rows(events):
        detail.append([_xlsx_value(v) for v in row])
        n += 1
        if on_progress is not None and n % 1000 == 0:
            on_progress(n)
    workbook.save(target)
    return n

"""CSV: streamed one line at a time from a database cursor (constant memory however many events)."""

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from safety.exports.rows import HEADER, detail_rows

# A cell starting with one of these is a formula to a spreadsheet: prefix it so it stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    def write(self, value: str) -> str:
        return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(events: QuerySet, *, on_row=None) -> Iterator[str]:
    """The header, then one line per event. `on_row(n)` is called after each row (for logs and progress)."""
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    for n, row in enumerate(detail_rows(events), start=1):
        yield writer.writerow([_cell(v) for v in row])
        if on_row is not None:
            on_row(n)

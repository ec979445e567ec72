"""CSV downloads, for the people who open them: in Excel, mostly.

Excel reads a CSV file in the computer's legacy code page unless the file starts with a UTF-8 byte-order mark
(U+FEFF, the bytes EF BB BF): without it "Épanchement" opens as "Ã‰panchement". Every CSV download here is made
for a person (the dashboard's tables, adverse events, the audit trail; the API answers JSON), so each starts with
the mark by default. Scripts and databases may ask for plain UTF-8 with ``encoding=utf-8`` (a query parameter,
or the export form's choice); Python's csv module reads either with ``open(..., encoding="utf-8-sig")``.
"""

from collections.abc import Mapping
from typing import Any

BOM = "\ufeff"
EXCEL, PLAIN = "excel", "utf-8"
ENCODING_CHOICES = [
    (EXCEL, "For Excel (UTF-8 with a byte-order mark)"),
    (PLAIN, "Plain UTF-8, without the mark (for scripts and databases)"),
]


def wants_bom(params: Mapping[str, Any]) -> bool:
    """Whether a CSV download should start with the byte-order mark: yes unless ``encoding=utf-8`` was asked for."""
    return params.get("encoding") != PLAIN

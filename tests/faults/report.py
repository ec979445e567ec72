"""The fault tests' numbers: each test records one row (expected, delivered, duplicates, lost, recovery seconds);
the session prints them as a table at the end and writes var/faults/report.md, passed or not.

A plugin of the whole test session (tests/conftest.py), not of tests/faults/conftest.py: under xdist the tests
run in worker processes and only the controller, which never collects tests/faults/, prints the summary. Rows
travel through files, one per test, under var/faults/.
"""

import json
import os
import re
import time
from pathlib import Path

FOLDER = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parents[2] / "var") / "faults"
COLUMNS = ("fault", "expected", "delivered", "duplicates", "recognisable", "lost", "stuck", "recovery_seconds",
           "bound_seconds")  # fmt: skip

_session_started = time.time()


def record(row: dict) -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "-", os.environ.get("PYTEST_CURRENT_TEST", row["fault"]).split(" ")[0])
    (FOLDER / f"{name}.json").write_text(json.dumps(row))


def rows_since(started: float) -> list[dict]:
    if not FOLDER.exists():
        return []
    files = sorted(path for path in FOLDER.glob("*.json") if path.stat().st_mtime >= started)
    return [json.loads(path.read_text()) for path in files]


def table(rows: list[dict]) -> list[str]:
    header = (
        "| Fault | Expected | Delivered | Duplicates | of which same Message-ID | Lost | Stuck | Recovery (s) "
        "| Bound (s) |"
    )
    lines = [header, "|" + "---|" * len(COLUMNS)]
    for row in rows:
        recovery = "-" if row["recovery_seconds"] is None else f"{row['recovery_seconds']:.1f}"
        lines.append(
            f"| {row['fault']} | {row['expected']} | {row['delivered']} | {row['duplicates']} "
            f"| {row.get('recognisable', '-')} | {row['lost']} "
            f"| {row['stuck']} | {recovery} | {row['bound_seconds']:.0f} |"
        )
    return lines


def pytest_configure(config):
    global _session_started
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        _session_started = time.time()


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):
        return
    rows = rows_since(_session_started)
    if not rows:
        return
    lines = table(rows)
    (FOLDER / "report.md").write_text("\n".join(lines) + "\n")
    terminalreporter.section("faults: every invitation exactly once", sep="-")
    for line in lines:
        terminalreporter.line(line)
    terminalreporter.line(f"(also in {FOLDER / 'report.md'})")

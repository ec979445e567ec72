"""Adverse-event CSV export of N events next to PostgreSQL's own COPY of the same rows (issues 5 and 8).

`python -m bench.steps export --count N` (what bench/run.py calls) pads the bench database to N adverse events
with SQL, times the reference (COPY of the same rows, raw, through psycopg's cursor.copy()) and then the real
export: an administrator's POST to the export page (CSV, no filters, every clinic) through Django's test client,
reading the streamed body, in a fresh process that does nothing else, so its peak RSS is the export's own.

`python -m bench.export_bench --count N --path python` measures the Python path (SQLite's) instead of COPY, for
information: the same view with the database's COPY turned off.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from safety.choices import (  # noqa: E402
    HARVEST_CATEGORIES,
    ActionTaken,
    Causality,
    EventCategory,
    Outcome,
)
from safety.exports.rows import VALUE_PATHS  # noqa: E402
from safety.models import AdverseEvent  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXPORT_URL = "/exports/adverse-events/"
RUNS = 2  # each measurement is the better of two, so a neighbour's burst on a shared machine counts less

# Case narratives are assembled from these, 100-300 characters, some with commas, quotes or a line break.
_OPENINGS = [
    "Patient phoned the clinic two days after the injection, reporting a warm, swollen knee",
    'Reported on the 1-month questionnaire: "knee felt tight and hot for a few days"',
    "Seen in clinic for review; mild effusion noted on examination, no erythema",
    "Pain at the injection site the same evening, settling with ice and paracetamol",
    "Attended the emergency department overnight with fever, rigors and a painful knee",
    'Harvest site bruising over the iliac crest, "like a kick", no neurological signs',
    "Felt faint and sweaty during the procedure; lay flat, recovered within ten minutes",
]
_MIDDLES = [
    " Aspirated 20 mL of straw-coloured fluid; cell count 1,200/mm3, Gram stain and cultures negative.",
    " Blood glucose 14.2 mmol/L the next morning in a known diabetic, managed by the GP.",
    " Range of motion reduced to 10-90 degrees; advised rest, ice, elevation and NSAIDs for 5 days.",
    " CRP 8, WBC normal. Ultrasound: small effusion, no collection.",
    " Admitted for washout; synovial fluid WBC 48,000, cultures grew S. aureus, IV antibiotics given.",
    " No investigations needed; examined again at the next visit.",
]
_CLOSINGS = [
    " Symptoms resolved by the 2-week call.",
    " Ongoing at last contact, to be reviewed at 3 months.",
    " Next injection postponed by four weeks.",
    "\nFollow-up call booked.",
    "",
]


def _sql_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def pad_events(count: int) -> dict:
    """Bring safety_adverseevent to `count` rows with one INSERT ... SELECT over the seeded injections given by
    yesterday (and their patients, clinics and clinicians): a realistic mix of categories, severities,
    seriousness (about 8 %), outcomes and narratives. Each event is linked to its index injection (the M2M),
    history rows are not written (bulk-loaded data was never edited)."""
    if connection.vendor != "postgresql":
        raise SystemExit("pad_events needs PostgreSQL")
    missing = count - AdverseEvent.objects.count()
    started = time.perf_counter()
    if missing > 0:
        joint = [c for c in EventCategory.values if c not in HARVEST_CATEGORIES]
        harvest = list(HARVEST_CATEGORIES)
        outcomes = [Outcome.RECOVERED] * 5 + [
            Outcome.RECOVERING,
            Outcome.RECOVERING,
            Outcome.NOT_RECOVERED,
            Outcome.RECOVERED_WITH_SEQUELAE,
            Outcome.UNKNOWN,
        ]
        causality = list(Causality.values)
        actions = [ActionTaken.NONE, ActionTaken.CONSERVATIVE, ActionTaken.MEDICATION, ActionTaken.ASPIRATION]
        params = {
            "missing": missing,
            "joint": joint,
            "harvest": harvest,
            "outcomes": outcomes,
            "causality": causality,
            "actions": actions,
            "openings": _OPENINGS,
            "middles": _MIDDLES,
            "closings": _CLOSINGS,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # Every reference is taken from an existing row, so the per-row foreign-key triggers (most of the
            # time of a million-row INSERT) are switched off for this transaction; the bench user is a superuser.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(_PAD_SQL, params)
            padded = cursor.rowcount
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE safety_adverseevent")
            cursor.execute("ANALYZE safety_adverseevent_injections")
    else:
        padded = 0
    return {
        "events": AdverseEvent.objects.count(),
        "padded": padded,
        "pad_seconds": round(time.perf_counter() - started, 1),
    }


# Per event g: an injection picked by a stride over the pool, onset 0-59 days after it (never after today), and
# every other attribute a function of g, so the mix is the same at any size. Serious: g % 100 < 8, of which
# every 50th fatal (grade 5, death); hospitalisation or "other medically important" for the rest.
_PAD_SQL = """
WITH pool AS (
    SELECT i.id, i.patient_id, p.clinic_id, i.injected_on, i.product, i.clinician_id,
           row_number() OVER (ORDER BY i.id) - 1 AS k
    FROM registry_injection i JOIN registry_patient p ON p.id = i.patient_id
    WHERE i.status = 'given' AND i.injected_on < CURRENT_DATE
), size AS (SELECT count(*) AS n FROM pool),
picked AS (
    SELECT g, pool.*,
           LEAST(pool.injected_on + (g %% 60)::int, CURRENT_DATE) AS onset,
           g %% 100 < 8 AS serious,
           g %% 100 < 8 AND g %% 5000 = 0 AS fatal
    FROM generate_series(1, %(missing)s) g
    JOIN pool ON pool.k = (g::bigint * 7919) %% (SELECT n FROM size)
), shaped AS (
    SELECT picked.*,
           CASE WHEN fatal THEN 'fatal'
                ELSE (%(outcomes)s::text[])[1 + (g / 7) %% cardinality(%(outcomes)s::text[])] END AS outcome,
           CASE WHEN product = 'bmac' AND g %% 4 = 0
                THEN (%(harvest)s::text[])[1 + (g / 3) %% cardinality(%(harvest)s::text[])]
                ELSE (%(joint)s::text[])[1 + (g / 3) %% cardinality(%(joint)s::text[])] END AS category
    FROM picked
), inserted AS (
    INSERT INTO safety_adverseevent (
        clinic_id, patient_id, index_injection_id, source, flag_id, onset_on, category, description, severity,
        serious_death, serious_life_threatening, serious_hospitalisation, serious_disability,
        serious_congenital_anomaly, serious_other_medically_important, is_serious, causality, causality_product,
        causality_procedure, assessed_jointly, dechallenge, dechallenge_abated, rechallenge, rechallenge_recurred,
        aware_on, relatedness, expectedness, action_taken, outcome, outcome_on, meddra_code, meddra_version,
        recorded_by_id, recorded_at, assessed_by_id, assessed_at, version)
    SELECT clinic_id, patient_id, id, CASE WHEN g %% 4 = 0 THEN 'patient_reported' ELSE 'clinician' END, NULL,
           onset, category,
           (%(openings)s::text[])[1 + g %% cardinality(%(openings)s::text[])]
             || (%(middles)s::text[])[1 + (g / 7) %% cardinality(%(middles)s::text[])]
             || (%(closings)s::text[])[1 + (g / 42) %% cardinality(%(closings)s::text[])],
           CASE WHEN fatal THEN 5 WHEN serious THEN 3 + (g %% 2) ELSE 1 + (g %% 3 = 0)::int END,
           fatal, false, serious AND NOT fatal AND (g / 100) %% 3 <> 0, false, false,
           serious AND NOT fatal AND (g / 100) %% 3 = 0, serious,
           -- causality is the stronger of the two: the product one, with the procedure "unlikely" (the weakest)
           (%(causality)s::text[])[1 + (g / 5) %% cardinality(%(causality)s::text[])],
           (%(causality)s::text[])[1 + (g / 5) %% cardinality(%(causality)s::text[])],
           'unlikely', false, '', '', '', '',
           LEAST(onset + (g %% 3)::int, CURRENT_DATE),
           CASE WHEN category LIKE 'harvest%%' THEN 'harvest' WHEN g %% 5 = 0 THEN 'unknown' ELSE 'injection' END,
           CASE WHEN serious OR g %% 9 = 0 THEN 'unexpected' ELSE 'expected' END,
           CASE WHEN serious THEN 'admission'
                ELSE (%(actions)s::text[])[1 + (g / 11) %% cardinality(%(actions)s::text[])] END,
           outcome,
           CASE WHEN outcome IN ('recovered', 'recovered_with_sequelae', 'fatal')
                THEN LEAST(onset + 2 + (g %% 28)::int, CURRENT_DATE) END,
           CASE WHEN g %% 3 = 0 THEN '10' || lpad(((g::bigint * 7919) %% 1000000)::text, 6, '0') ELSE '' END,
           CASE WHEN g %% 3 = 0 THEN '27.0' ELSE '' END,
           clinician_id, LEAST(onset + make_interval(days => g %% 3, secs => g %% 86400), now()),
           CASE WHEN g %% 10 = 0 THEN NULL ELSE clinician_id END,
           CASE WHEN g %% 10 = 0 THEN NULL
                ELSE LEAST(onset + make_interval(days => g %% 3, secs => g %% 86400 + 7200), now()) END,
           1
    FROM shaped
    ORDER BY onset, g  -- ids in the order events are recorded, as in a live registry
    RETURNING id, index_injection_id
)
INSERT INTO safety_adverseevent_injections (adverseevent_id, injection_id)
SELECT id, index_injection_id FROM inserted
"""


def _raw_columns() -> str:
    """The columns the Python path reads (rows.VALUE_PATHS), raw: no formatting, no CASE, no guard."""
    aliases = {"clinic": "c", "patient": "p", "index_injection": "i"}
    columns = []
    for path in VALUE_PATHS:
        model, *relations, name = [AdverseEvent, *path.split("__")]
        alias = "e"
        for relation in relations:
            alias = aliases[relation]
            model = model._meta.get_field(relation).related_model
        columns.append(f'{alias}."{model._meta.get_field(name).column}"')
    return ", ".join(columns)


REFERENCE_SQL = f"""
COPY (SELECT {_raw_columns()}
      FROM safety_adverseevent e
      JOIN registry_clinic c ON c.id = e.clinic_id
      JOIN registry_patient p ON p.id = e.patient_id
      JOIN registry_injection i ON i.id = e.index_injection_id
      ORDER BY e.onset_on, e.id)
TO STDOUT (FORMAT csv)
"""  # noqa: S608 - constant names only


# The same without the export's order: what COPY costs when it need not sort (for the record, in the details).
UNORDERED_SQL = REFERENCE_SQL.replace("      ORDER BY e.onset_on, e.id", "")


def copy_reference(statement: str = REFERENCE_SQL) -> dict:
    """PostgreSQL's COPY of the same rows (the export's joins and order, its source columns raw), every byte read
    through psycopg's cursor.copy(); the better of RUNS runs."""
    best = None
    for _ in range(RUNS):
        started = time.perf_counter()
        size = 0
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(statement) as copy:
                for data in copy:
                    size += len(data)
            rows = raw.rowcount
        seconds = time.perf_counter() - started
        if best is None or seconds < best["seconds"]:
            best = {"rows": rows, "seconds": round(seconds, 3), "bytes": size}
    best["rows_per_s"] = round(best["rows"] / best["seconds"])
    return best


class LineCounter:
    """Counts CSV records in a stream of chunks: newlines outside quotes (a "" inside quotes toggles twice)."""

    def __init__(self) -> None:
        self.lines = 0
        self.quoted = False

    def feed(self, chunk: bytes) -> None:
        for index, part in enumerate(chunk.split(b'"')):
            if index:
                self.quoted = not self.quoted
            if not self.quoted:
                self.lines += part.count(b"\n")


def measure_view(path: str) -> dict:
    """The export as an administrator downloads it: POST, read every chunk, count the records. Run in a process
    of its own (main(["--measure"])) so ru_maxrss is this export's peak."""
    from bench.steps import sign_in

    if path == "python":
        from safety.exports import csv_export

        csv_export.copy_available = lambda events: False
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        raise SystemExit("no administrator: run seed_demo first")
    client = Client(HTTP_HOST="127.0.0.1")
    sign_in(client, admin)
    # A server process has loaded its URLs, views and templates before an export comes in: so does this one.
    if client.get(EXPORT_URL).status_code != 200:
        raise SystemExit("the export page is not reachable for the administrator")
    counter = LineCounter()
    size = chunks = 0
    started = time.perf_counter()
    response = client.post(EXPORT_URL, {"format": "csv"})
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"export page answered {response.status_code}")
    for chunk in response.streaming_content:  # the test client closes the response at its end, as a server does
        counter.feed(chunk)
        size += len(chunk)
        chunks += 1
    seconds = time.perf_counter() - started
    rows = counter.lines - 1  # the header
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    return {
        "path": path,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "bytes": size,
        "chunks": chunks,
        "peak_mb": round(peak_kb / 1024, 1),
    }


def export_in_fresh_process(path: str) -> dict:
    """measure_view in a new interpreter (padding and the reference do not inflate its peak memory)."""
    result = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.export_bench", "--measure", "--path", path],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
        capture_output=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"export measurement failed: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(count: int, *, path: str = "copy") -> dict:
    """Pad to `count` events, then the reference and the export (each the better of RUNS); the figures of
    issue 8, and the details."""
    padding = pad_events(count)
    expected = padding["events"]
    reference = copy_reference()
    unordered = copy_reference(UNORDERED_SQL)
    exports = [export_in_fresh_process(path) for _ in range(RUNS)]
    for export in exports:
        if export["rows"] != expected:
            raise SystemExit(f"the export held {export['rows']} rows, the database {expected}")
    export = max(exports, key=lambda e: e["rows_per_s"])
    return {
        "export_rows": export["rows"],
        "export_rows_per_s": export["rows_per_s"],
        "export_peak_mb": max(e["peak_mb"] for e in exports),
        "copy_rows_per_s": reference["rows_per_s"],
        "export_ratio": round(export["rows_per_s"] / reference["rows_per_s"], 3),
        "export_path": path,
        "padding": padding,
        "reference": reference,
        "reference_unordered": unordered,
        "exports": exports,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--path", choices=["copy", "python"], default="copy")
    parser.add_argument("--measure", action="store_true", help="only the export, in this process (internal)")
    args = parser.parse_args(argv)
    print(json.dumps(measure_view(args.path) if args.measure else run(args.count, path=args.path)))


if __name__ == "__main__":
    main(sys.argv[1:])

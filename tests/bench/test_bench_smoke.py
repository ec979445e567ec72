"""The benchmark suite at tiny sizes: every step runs and results.json has every figure the issue asks for."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run

ROOT = Path(__file__).resolve().parents[2]
WRK_SAMPLE = """Running 10s test @ http://127.0.0.1:8765/bench/trivial/
  2 threads and 12 connections
  Latency Distribution
     50%    4.10ms
     75%    6.00ms
     90%    9.12ms
     99%    1.02s
  23861 requests in 10.01s, 4.1MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2383.52
"""


def test_wrk_output_is_parsed():
    parsed = run.parse_wrk(WRK_SAMPLE)
    assert parsed == {
        "rps": 2383.5,
        "p50_ms": 4.1,
        "p99_ms": 1020.0,
        "requests": 23861,
        "bad_status": 3,
        "socket_errors": "",
    }


def test_verdicts_follow_the_issue_targets():
    assert run.verdict("submit_ratio", 0.8) == "meets aim"
    assert run.verdict("submit_ratio", 0.5) == "meets floor"
    assert run.verdict("submit_ratio", 0.3) == "MISSES floor"
    assert run.verdict("sweep_seconds", 1.5) == "meets aim"
    assert run.verdict("sweep_seconds", 12) == "MISSES floor"


@pytest.mark.needs_services("postgres", "redis")
def test_make_bench_at_tiny_sizes(tmp_path):
    if not shutil.which("wrk"):
        pytest.skip("needs service: wrk (apt-get install wrk)")
    results = tmp_path / "results.json"
    db = f"bench_smoke_{os.getpid()}"
    cmd = [
        sys.executable, "-m", "bench.run", "--db", db, "--out", str(tmp_path), "--results", str(results),
        "--injections", "150", "--clinics", "3", "--links", "3000", "--wrk-seconds", "1", "--wrk-connections", "4",
        "--repeats", "2", "--follow-ups", "6000", "--due", "40", "--events", "2000",
    ]  # fmt: skip
    try:
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=600, capture_output=True, text=True)
    finally:
        run.drop_database(db)
    data = json.loads(results.read_text())
    for key in ("submit_ratio", "submit_rps", "submit_p99_ms", "dashboard_ratio", "dashboard_p95_ms", "sweep_seconds",
                "sweep_queries", "expectation_ratio", "expectation_api_p95_ms", "expectation_sql_p50_ms", "cores",
                "date"):  # fmt: skip
        assert data[key] is not None, key
    # Knees like mine: the service, the API and the reference all timed, and the reference's figures compared
    # with the service's (the step fails on any difference).
    expectation = data["detail"]["expectation"]
    assert expectation["service"]["n"] == expectation["api"]["n"] == expectation["sql"]["n"] == 2
    assert expectation["timepoint"] == "6m"
    assert expectation["checked"]["figures"] == data["expectation_figures_checked"] >= 0
    assert data["submit_rps"] > 0
    assert data["submit_errors"] == 0
    assert data["sweep_due"] == 40
    # The filler patients may be emailed and texted: rows on both channels (an email invitation and reminders, and
    # text reminders for later), the 40 invitations claimed by email.
    assert data["sweep_rows_email"] == 4 * 40
    assert data["sweep_rows_sms"] == 2 * 40
    assert data["sweep_claimed_email"] >= 40
    assert data["export_rows"] == 2000  # padded to --events, and every row read back from the streamed CSV
    assert data["export_rows_per_s"] > 0
    assert data["copy_rows_per_s"] > 0
    assert data["export_ratio"] == round(data["export_rows_per_s"] / data["copy_rows_per_s"], 3)
    assert 0 < data["export_peak_mb"] < 1000

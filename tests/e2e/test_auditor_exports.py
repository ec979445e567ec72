"""An auditor signs in, filters a period on the export page, downloads the CSV, XLSX and PDF, and each file opens
and holds the expected events (read back here; the PDF's text extracted)."""

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.factories import PASSWORD, PatientFactory, make_injection
from tests.safety.ae_support import record, record_serious


@pytest.fixture
def events(clinic, clinician):
    march = record_serious(clinician, make_injection(PatientFactory(clinic=clinic, full_name="Ada Hidden"), clinician))
    also_march = record(clinician, make_injection(PatientFactory(clinic=clinic), clinician))
    april_injection = make_injection(PatientFactory(clinic=clinic), clinician, injected_on=dt.date(2026, 4, 1))
    april = record(clinician, april_injection, onset_on=dt.date(2026, 4, 4), outcome_on=dt.date(2026, 4, 9))
    return {"in_period": [march, also_march], "outside": april}


def _download(page, button: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    download = info.value
    with open(download.path(), "rb") as file:
        return file.read()


def test_auditor_filters_a_period_and_downloads_csv_xlsx_and_pdf(page, live_server, sign_in, auditor, events):
    sign_in(page, auditor, PASSWORD)
    page.goto(f"{live_server.url}/exports/adverse-events/")
    page.get_by_label("Onset from").fill("2026-03-01")
    page.get_by_label("Onset to").fill("2026-03-31")
    expected = sorted(e.pk for e in events["in_period"])
    numbers = {e.patient.registry_number for e in events["in_period"]}

    raw = _download(page, "Download CSV")
    assert raw.startswith(b"\xef\xbb\xbf")  # for Excel, the default
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert sorted(int(r["event_id"]) for r in rows) == expected
    assert {r["registry_number"] for r in rows} == numbers

    workbook = load_workbook(io.BytesIO(_download(page, "Download XLSX")), read_only=True)
    detail = list(workbook["Detail"].iter_rows(values_only=True))
    assert sorted(row[0] for row in detail[1:]) == expected
    summary = [row for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0] == "All products"]
    assert summary[0][1:4] == (2, 2, 1)  # 2 injections in March, 2 events, 1 serious

    pdf = PdfReader(io.BytesIO(_download(page, "Download PDF report")))
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    assert "governance report" in text
    assert f"Event #{events['in_period'][0].pk}" in text
    assert events["in_period"][0].patient.registry_number in text
    assert events["outside"].patient.registry_number not in text
    assert "Ada Hidden" not in text

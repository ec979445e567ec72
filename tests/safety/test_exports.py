"""Auditor exports of adverse events: CSV (streamed, in chunks), XLSX (summary rates hand-computed), PDF report,
FHIR R4 Bundle and CIOMS I, all pseudonymised and logged; background jobs for large ones, with a link only the
requester can use until it expires; scoping (403 for non-auditors, 404 outside one's clinics)."""

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.db.models.query import QuerySet
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from registry.choices import Role
from safety.choices import ExportStatus
from safety.exports import csv_export, service
from safety.exports.rows import HEADER
from safety.models import ExportJob, ExportLog
from tests.factories import ClinicFactory, PatientFactory, make_injection, staff
from tests.safety.ae_support import PRP_PROTOCOL, record, record_serious

pytestmark = pytest.mark.django_db
URL = "/exports/adverse-events/"
PERIOD = {"onset_from": "2026-03-01", "onset_to": "2026-03-31"}


@pytest.fixture
def dataset(clinic, clinician, other_clinic):
    """4 BMAC and 1 PRP injections in March 2026; events: BMAC serious, BMAC mild, PRP mild; one April event
    (outside the period) and one in another clinic (never visible)."""
    patients = [PatientFactory(clinic=clinic, full_name=f"Secret Name {i}", phone="07700 900123") for i in range(3)]
    bmac = [make_injection(patients[0], clinician)]
    bmac += [make_injection(PatientFactory(clinic=clinic), clinician) for _ in range(3)]
    prp = make_injection(patients[1], clinician, product="prp", protocol=PRP_PROTOCOL, injected_on=dt.date(2026, 3, 3))
    late = make_injection(patients[2], clinician, injected_on=dt.date(2026, 4, 1))
    events = {
        "serious": record_serious(clinician, bmac[0], description="Hot swollen knee =cmd| admitted for washout."),
        "bmac_mild": record(clinician, bmac[1]),
        "prp_mild": record(clinician, prp, onset_on=dt.date(2026, 3, 6)),
        "april": record(clinician, late, onset_on=dt.date(2026, 4, 4), outcome_on=dt.date(2026, 4, 9)),
    }
    elsewhere = staff(other_clinic, Role.CLINICIAN)
    events["elsewhere"] = record(elsewhere, make_injection(PatientFactory(clinic=other_clinic), elsewhere))
    return {"patients": patients, "events": events}


def export(client, fmt, **params):
    return client.post(URL, {**PERIOD, **params, "format": fmt})


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_pseudonymised(text: str, patients) -> None:
    for patient in patients:
        assert patient.full_name not in text
        assert patient.email not in text
        assert patient.phone not in text
    assert "token" not in text.lower()
    assert "year_of_birth" not in text


def test_csv_streams_one_row_per_event_pseudonymised(client, auditor, dataset):
    client.force_login(auditor)
    response = export(client, "csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].startswith("attachment;")
    text = content(response).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    events = dataset["events"]
    assert [int(r["event_id"]) for r in rows] == [events["serious"].pk, events["bmac_mild"].pk, events["prp_mild"].pk]
    first = rows[0]
    assert first["registry_number"] == events["serious"].patient.registry_number
    assert first["age_band"] == "60-69"  # born 1960, injected 2026
    assert first["product"] == "bmac"
    assert first["harvest_site"] == "posterior_iliac_crest"
    assert float(first["concentrate_volume_ml"]) == 6
    assert first["kl_grade"] == "2"
    assert first["serious"] == "true"
    assert first["hospitalisation"] == "true"
    assert first["causality_who_umc"] == "possible"
    assert first["outcome_e2b_r3"] == "2"
    assert first["days_to_onset"] == "3"
    assert rows[2]["leukocytes"] == "poor"
    assert list(rows[0]) == HEADER
    assert "'=cmd|" not in text  # the formula is inside the cell, not at its start...
    assert_pseudonymised(text, dataset["patients"])


def test_csv_cells_that_start_a_formula_are_neutralised(client, auditor, clinician, injection):
    record(clinician, injection, description='=HYPERLINK("http://evil")')
    client.force_login(auditor)
    text = content(export(client, "csv")).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_csv_reads_the_queryset_in_chunks(client, auditor, dataset, monkeypatch):
    """The Python path (SQLite; forced here on PostgreSQL, where COPY writes it: tests/safety/test_csv_copy.py)."""
    monkeypatch.setattr(csv_export, "copy_available", lambda events: False)
    seen = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    client.force_login(auditor)
    response = export(client, "csv")
    assert seen == []  # nothing is read before the response streams
    content(response)
    assert seen == [2000]


def test_export_filters(client, auditor, dataset):
    client.force_login(auditor)
    events = dataset["events"]

    def ids(**params):
        rows = csv.DictReader(io.StringIO(content(export(client, "csv", **params)).decode("utf-8-sig")))
        return [int(r["event_id"]) for r in rows]

    assert ids(serious="true") == [events["serious"].pk]
    assert ids(product="prp") == [events["prp_mild"].pk]
    assert ids(causality=["probable"]) == [events["bmac_mild"].pk, events["prp_mild"].pk]
    assert events["april"].pk in ids(onset_to="2026-04-30")


def test_xlsx_summary_rates_and_detail(client, lead, dataset):
    client.force_login(lead)
    response = export(client, "xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    summary = {row[0]: row for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]}
    # Hand-computed: BMAC 4 injections in March (the April one is outside), 2 events (1 serious) -> 50 and 25 per 100.
    bmac = summary["BMAC (bone marrow aspirate concentrate)"]
    assert bmac[1:8] == (4, 2, 1, 1, 50.0, 25.0, 25.0)
    prp = summary["PRP (platelet-rich plasma)"]
    assert prp[1:8] == (1, 1, 0, 1, 100.0, 0.0, 100.0)
    total = summary["All products"]
    assert total[1:6] == (5, 3, 1, 2, 60.0)
    detail = list(workbook["Detail"].iter_rows(values_only=True))
    assert list(detail[0]) == HEADER
    assert len(detail) == 4
    text = " ".join(str(cell) for row in detail for cell in row)
    assert_pseudonymised(text, dataset["patients"])


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())  # table cells wrap: compare words, not lines


def test_pdf_report_has_summary_chart_serious_narrative_and_trail(client, auditor, clinician, dataset):
    from safety import services

    serious = dataset["events"]["serious"]
    services.adverse_event_correct(
        event=serious, by=clinician, data={"severity": 4}, reason="Worse on admission", expected_version=1
    )
    client.force_login(auditor)
    response = export(client, "pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "governance report" in text
    assert "01 Mar 2026 to 31 Mar 2026" in text
    assert "Events per product" in text
    assert f"Event #{serious.pk}" in text
    assert serious.patient.registry_number in text
    assert "admitted for washout" in text
    assert "Worse on admission" in text
    assert f"Event #{dataset['events']['bmac_mild'].pk}" not in text  # only serious events are listed in full
    assert_pseudonymised(text, dataset["patients"])


def test_fhir_bundle_structure(client, auditor, dataset):
    client.force_login(auditor)
    response = export(client, "fhir")
    bundle = json.loads(response.content)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert len(bundle["entry"]) == 3
    resources = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    serious = resources[str(dataset["events"]["serious"].pk)]
    for element in (
        "actuality",
        "subject",
        "date",
        "recordedDate",
        "seriousness",
        "severity",
        "outcome",
        "suspectEntity",
    ):
        assert element in serious, element
    assert serious["actuality"] == "actual"
    assert serious["subject"]["identifier"]["value"] == dataset["events"]["serious"].patient.registry_number
    assert "reference" not in serious["subject"] or "Patient/" in serious["subject"]["reference"]
    seriousness = serious["seriousness"]["coding"][0]
    assert seriousness == {
        "system": "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
        "code": "Serious",
        "display": "Serious",
    }
    assert serious["severity"]["coding"][0]["code"] == "severe"  # CTCAE 3
    assert serious["severity"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
    grade = {"url": "https://knee-registry.example/fhir/StructureDefinition/ctcae-grade", "valueInteger": 3}
    assert grade in serious["extension"]
    assert serious["outcome"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
        "code": "recovering",
        "display": "Recovering / resolving",
    }
    assessment = serious["suspectEntity"][0]["causality"][0]["assessment"]["coding"][0]
    assert assessment["system"] == "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"
    assert assessment["code"] == "Possible"
    mild = resources[str(dataset["events"]["bmac_mild"].pk)]
    assert mild["seriousness"]["coding"][0]["code"] == "Non-serious"
    assert mild["suspectEntity"][0]["causality"][0]["assessment"]["coding"][0]["code"] == "Probably-Likely"
    assert mild["severity"]["coding"][0]["code"] == "moderate"
    assert_pseudonymised(response.content.decode(), dataset["patients"])


def test_cioms_case_report_has_the_form_fields(client, clinician, dataset):
    serious = dataset["events"]["serious"]
    client.force_login(clinician)
    response = client.get(reverse("safety:event-cioms", args=[serious.pk]))
    assert response.status_code == 200
    text = pdf_text(response.content)
    for expected in (
        "CIOMS I",
        "1. Patient",
        serious.patient.registry_number,
        "2a. Age",
        "60-69",
        "3. Sex",
        "4–6. Reaction onset",
        "05 / 03 / 2026",
        "7 + 13. Describe reaction",
        "[X] Requires or prolongs inpatient hospitalisation",
        "[ ] Results in death",
        "14. Suspect drug(s)",
        "BMAC",
        "16. Route",
        "17. Indication",
        "Knee osteoarthritis",
        "22. Concomitant drug(s)",
        "24a. Name and address of manufacturer",
        "25a. Date of this report",
        "Possible",
    ):
        assert expected in text, expected
    assert_pseudonymised(text, dataset["patients"])
    assert ExportLog.objects.filter(format="cioms", row_count=1, user=clinician).exists()


def test_every_export_is_logged_with_its_row_count(client, auditor, dataset):
    client.force_login(auditor)
    for fmt in ("csv", "xlsx", "pdf", "fhir"):
        content(export(client, fmt, product="bmac"))
    logs = list(ExportLog.objects.order_by("id"))
    assert [(log.format, log.row_count) for log in logs] == [("csv", 2), ("xlsx", 2), ("pdf", 2), ("fhir", 2)]
    assert all(log.user == auditor and log.filters["product"] == "bmac" for log in logs)
    assert logs[0].filters["onset_from"] == "2026-03-01"
    page = client.get(URL).content.decode()
    assert "Export log" in page
    assert "product=bmac" in page


def test_who_may_export(client, clinician, outsider, auditor, clinic, dataset):
    client.force_login(clinician)  # clinicians record events; exports are for auditors and leads
    assert client.get(URL).status_code == 403
    assert export(client, "csv").status_code == 403
    client.force_login(outsider)
    assert client.get(URL).status_code == 403
    other_auditor = staff(ClinicFactory(), Role.AUDITOR)
    client.force_login(other_auditor)
    assert client.get(URL).status_code == 200
    assert export(client, "csv", clinic=clinic.pk).status_code == 404
    rows = list(csv.DictReader(io.StringIO(content(export(client, "csv")).decode("utf-8-sig"))))
    assert rows == []


def test_auditor_sees_only_their_clinics(client, auditor, dataset):
    client.force_login(auditor)
    text = content(export(client, "csv", onset_to="2026-12-31")).decode("utf-8-sig")
    assert str(dataset["events"]["elsewhere"].patient.registry_number) not in text


@pytest.fixture
def queued(monkeypatch):
    calls = []
    from safety import tasks

    monkeypatch.setattr(tasks.export_job_run, "delay", lambda job_id: calls.append(job_id))
    return calls


def test_large_exports_become_jobs_that_only_the_requester_can_download_until_expiry(
    client, auditor, lead, dataset, settings, tmp_path, queued, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    settings.MEDIA_ROOT = str(tmp_path)
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = export(client, "xlsx")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("safety:export-job", args=[job.pk])
    assert queued == [job.pk]  # enqueued on commit, through notifications
    page = client.get(response["Location"]).content.decode()
    assert "data-refresh-seconds" in page  # js/export-job.js follows the job in place (tests/e2e/test_export_job.py)
    assert not ExportLog.objects.exists()

    service.export_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.progress, job.row_count) == (ExportStatus.DONE, 100, 3)
    assert job.file_path.startswith("exports/")
    assert ExportLog.objects.get().row_count == 3
    page = client.get(reverse("safety:export-job", args=[job.pk])).content.decode()
    assert "data-refresh-seconds" not in page
    download = reverse("safety:export-job-download", args=[job.pk])
    got = client.get(download)
    assert got.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(got.streaming_content)), read_only=True)
    assert len(list(workbook["Detail"].iter_rows())) == 4

    client.force_login(lead)  # another exporter of the same clinic: not theirs
    assert client.get(download).status_code == 404
    assert client.get(reverse("safety:export-job", args=[job.pk])).status_code == 404

    with time_machine.travel(job.expires_at + dt.timedelta(seconds=1)):
        client.force_login(auditor)  # sessions end after idling: sign in again a day later
        assert client.get(download).status_code == 410
    assert not (tmp_path / job.file_path).exists()


def test_expired_export_files_are_deleted_by_the_hourly_task_though_nobody_asks(auditor, dataset, settings, tmp_path):
    from safety.selectors import EventFilters
    from safety.tasks import export_files_expire

    settings.MEDIA_ROOT = str(tmp_path)
    job = ExportJob.objects.create(requested_by=auditor, format="xlsx", filters=EventFilters().as_json())
    service.export_job_run(job.pk)
    job.refresh_from_db()
    path, rows = tmp_path / job.file_path, job.row_count
    assert path.exists()
    assert rows > 0
    export_files_expire()  # not expired yet: kept
    assert path.exists()
    with time_machine.travel(job.expires_at + dt.timedelta(seconds=1)):
        export_files_expire()
    assert not path.exists()
    job.refresh_from_db()
    assert (job.status, job.file_path, job.row_count) == (ExportStatus.DONE, "", rows)  # the record stays
    assert ExportLog.objects.get(job=job).row_count == rows


def test_csv_is_never_a_job(client, auditor, dataset, settings, queued):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    client.force_login(auditor)
    assert export(client, "csv").streaming
    assert not ExportJob.objects.exists()


def test_a_failed_job_says_so(auditor, settings, tmp_path, monkeypatch):
    from safety.selectors import EventFilters

    settings.MEDIA_ROOT = str(tmp_path)
    job = ExportJob.objects.create(requested_by=auditor, format="pdf", filters=EventFilters().as_json())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "build", boom)
    service.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "disk full" in job.error
    assert service.export_job_run(job.pk).status == ExportStatus.FAILED  # a finished job is left alone


def _fhir_addresses(bundle: dict) -> list[str]:
    """Every identifier system and fullUrl in a bundle: what a receiving system keys the records on."""
    found = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        found.append(entry["fullUrl"])
        found.append(resource["identifier"]["system"])
        found.append(resource["subject"]["identifier"]["system"])
        found += [s["instance"]["identifier"]["system"] for s in resource["suspectEntity"]]
    return found


def test_fhir_identifiers_do_not_change_with_the_site_address(client, auditor, dataset, settings):
    """A receiver matches resources by identifier system and fullUrl; moving the site to another host or port (or
    exporting from a staging copy) must not make every event look new."""
    client.force_login(auditor)
    settings.FHIR_SYSTEM_URI = "https://registry.north-knee.example/fhir"
    exports = []
    for site_url in ("http://127.0.0.1:8000", "https://registry.example.org:8443"):
        settings.SITE_URL = site_url
        exports.append(json.loads(export(client, "fhir").content))
    first, second = (_fhir_addresses(bundle) for bundle in exports)
    assert first == second
    assert all(address.startswith("https://registry.north-knee.example/fhir/") for address in first)
    event = dataset["events"]["serious"]
    entry = next(e for e in exports[0]["entry"] if e["resource"]["id"] == str(event.pk))
    assert entry["fullUrl"] == f"https://registry.north-knee.example/fhir/AdverseEvent/{event.pk}"
    assert entry["resource"]["subject"]["identifier"] == {
        "system": "https://registry.north-knee.example/fhir/registry-number",
        "value": event.patient.registry_number,
    }

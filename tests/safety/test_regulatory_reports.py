"""Issue 15: the reports made for an event (sponsor, MHRA Yellow Card, FDA MedWatch, device vigilance): recorded
from the event page or the API by those who may record events, audited, read-only for auditors, 404 for other
clinics, and exported (CSV on both paths, XLSX, CIOMS)."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from safety import services
from safety.exports import cioms, csv_export
from safety.exports.rows import HEADER, detail_rows
from safety.models import AdverseEvent, RegulatoryReport
from tests.safety.ae_support import AWARE, make_study_injection, susar

pytestmark = pytest.mark.django_db
REPORT = {"route": "mhra_yellow_card", "kind": "initial", "submitted_on": "2026-03-08", "reference": "GB-2026-0042"}


@pytest.fixture
def study_injection(patient, clinician):
    return make_study_injection(patient, clinician)


def api_url(event):
    return f"/api/v1/adverse-events/{event.pk}/reports/"


def test_a_clinician_records_a_report_from_the_event_page(client, clinician, study_injection):
    event = susar(clinician, study_injection)
    client.force_login(clinician)
    url = reverse("safety:event-report-new", args=[event.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, REPORT)
    assert response.status_code == 302
    report = RegulatoryReport.objects.get(event=event)
    assert (report.route, report.reference, report.submitted_by) == ("mhra_yellow_card", "GB-2026-0042", clinician)
    history = report.history.get()
    assert history.history_user == clinician
    assert history.history_change_reason == "Reported to MHRA Yellow Card"
    page = client.get(reverse("safety:event-detail", args=[event.pk])).content.decode()
    assert "GB-2026-0042" in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"submitted_on": "2099-01-01"}, "submitted_on"),
        ({"submitted_on": "2026-03-01"}, "submitted_on"),  # before the onset
        ({"reference": "  "}, "reference"),
        ({"route": "other", "notes": ""}, "notes"),
        ({"route": "fax"}, "route"),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_stored(client, clinician, study_injection, change, field):
    event = susar(clinician, study_injection)
    client.force_login(clinician)
    response = client.post(reverse("safety:event-report-new", args=[event.pk]), {**REPORT, **change})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not RegulatoryReport.objects.exists()


def test_auditors_read_reports_but_cannot_add_them(client, api_as, clinician, auditor, study_injection):
    event = susar(clinician, study_injection)
    services.regulatory_report_record(event=event, by=clinician, data={**REPORT, "submitted_on": dt.date(2026, 3, 8)})
    client.force_login(auditor)
    assert "GB-2026-0042" in client.get(reverse("safety:event-detail", args=[event.pk])).content.decode()
    url = reverse("safety:event-report-new", args=[event.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {**REPORT, "reference": "X"}).status_code == 403
    api = api_as(auditor)
    assert api.get(api_url(event)).status_code == 200
    assert api.post(api_url(event), {**REPORT, "reference": "X"}, format="json").status_code == 403
    with pytest.raises(Exception, match="cannot record"):
        services.regulatory_report_record(event=event, by=auditor, data={**REPORT, "reference": "X"})
    assert list(RegulatoryReport.objects.values_list("reference", flat=True)) == ["GB-2026-0042"]


def test_another_clinics_event_is_404(client, api_as, clinician, outsider, study_injection):
    event = susar(clinician, study_injection)
    client.force_login(outsider)
    assert client.get(reverse("safety:event-report-new", args=[event.pk])).status_code == 404
    assert client.post(reverse("safety:event-report-new", args=[event.pk]), REPORT).status_code == 404
    api = api_as(outsider)
    assert api.get(api_url(event)).status_code == 404
    assert api.post(api_url(event), REPORT, format="json").status_code == 404
    assert not RegulatoryReport.objects.exists()


def test_the_api_records_and_lists_reports_and_the_event_shows_its_clock(api_as, clinician, study_injection):
    event = susar(clinician, study_injection)
    api = api_as(clinician)
    body = api.get(f"/api/v1/adverse-events/{event.pk}/").json()
    assert body["susar_candidate"] is True
    assert body["susar_report_due_on"] == str(AWARE + dt.timedelta(days=15))
    assert body["regulatory_reports"] == []
    created = api.post(api_url(event), REPORT, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["submitted_by"] == clinician.pk
    listed = api.get(api_url(event)).json()
    assert [r["reference"] for r in listed] == ["GB-2026-0042"]
    refused = api.post(api_url(event), {**REPORT, "route": "other"}, format="json")
    assert refused.status_code == 400
    assert "notes" in refused.json()
    unknown = api.post(api_url(event), {**REPORT, "submitted_by": 1, "colour": "red"}, format="json")
    assert unknown.status_code == 400
    assert RegulatoryReport.objects.count() == 1


def _exported(events):
    rows = [dict(zip(HEADER, row, strict=True)) for row in detail_rows(events)]
    return {row["event_id"]: row for row in rows}


def test_exports_carry_the_candidate_its_due_date_and_its_reports(clinician, study_injection):
    reported = susar(clinician, study_injection)
    waiting = susar(clinician, study_injection, serious_life_threatening=True, severity=4)
    ordinary = susar(clinician, study_injection, expectedness="expected")
    for kind, day, reference in (("follow_up", 12, 'FU, "2"'), ("initial", 8, "GB-1")):
        services.regulatory_report_record(
            event=reported,
            by=clinician,
            data={"route": "sponsor", "kind": kind, "submitted_on": dt.date(2026, 3, day), "reference": reference},
        )
    rows = _exported(AdverseEvent.objects.order_by("id"))
    assert rows[reported.pk]["susar_candidate"] is True
    assert rows[reported.pk]["susar_report_due_on"] == AWARE + dt.timedelta(days=15)
    assert (
        rows[reported.pk]["regulatory_reports"]
        == '2026-03-08 initial sponsor GB-1; 2026-03-12 follow_up sponsor FU, "2"'
    )
    assert rows[waiting.pk]["susar_report_due_on"] == AWARE + dt.timedelta(days=7)
    assert rows[waiting.pk]["regulatory_reports"] == ""
    assert (rows[ordinary.pk]["susar_candidate"], rows[ordinary.pk]["susar_report_due_on"]) == (False, None)
    assert rows[ordinary.pk]["causality_product"] == "possible"
    assert rows[ordinary.pk]["causality_procedure"] == "unlikely"
    assert rows[ordinary.pk]["causality_who_umc"] == "possible"  # the stronger of the two


@pytest.mark.needs_services("postgres")
def test_the_copy_export_writes_the_new_columns_as_python_does(clinician, study_injection):
    reported = susar(clinician, study_injection)
    susar(clinician, study_injection, serious_life_threatening=True, severity=4)
    susar(clinician, study_injection, expectedness="expected", dechallenge="", rechallenge="")
    services.regulatory_report_record(
        event=reported,
        by=clinician,
        data={"route": "fda_medwatch", "submitted_on": dt.date(2026, 3, 9), "reference": '=MW, "1"\nline'},
    )
    events = AdverseEvent.objects.order_by("onset_on", "id")
    copied = b"".join(csv_export._copy_chunks(events))
    assert copied == b"".join(csv_export._python_chunks(events))
    rows = list(csv.DictReader(io.StringIO(copied.decode(), newline="")))
    assert [r["susar_candidate"] for r in rows] == ["true", "true", "false"]
    assert rows[0]["regulatory_reports"] == '2026-03-09 initial fda_medwatch =MW, "1"\nline'
    assert rows[1]["susar_report_due_on"] == "2026-03-13"


def test_cioms_names_both_causalities_the_staged_plan_boxes_and_the_reports(clinician, patient):
    from tests.factories import make_injection

    first = make_injection(patient, clinician, planned_injections=3)
    event = susar(
        clinician,
        first,
        dechallenge="yes",
        dechallenge_abated="yes",
        rechallenge="yes",
        rechallenge_recurred="no",
    )
    services.regulatory_report_record(event=event, by=clinician, data={**REPORT, "submitted_on": dt.date(2026, 3, 8)})
    context = cioms.context(event)
    assert context["abatement"].startswith("Yes: the next injection of the staged plan was withheld")
    assert cioms.reintroduction(event, [first]).startswith("No: a later injection of the staged plan was given")
    assert [r.reference for r in context["regulatory_reports"]] == ["GB-2026-0042"]

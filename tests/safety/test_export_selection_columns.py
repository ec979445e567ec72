"""The adverse-event exports carry the index injection's selection and risk factors (issue 15), one column each,
the free-text BMI reason left out; CSV (both paths) and XLSX agree."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import load_workbook

from registry import selection
from safety.exports import csv_export
from safety.exports.rows import HEADER, SELECTION_COLUMNS
from safety.exports.xlsx_export import write_xlsx
from safety.models import AdverseEvent
from tests.factories import make_injection
from tests.safety.ae_support import record


@pytest.fixture
def event(patient, clinician):
    injection = make_injection(
        patient,
        clinician,
        bmi=None,
        bmi_status="not_measured",
        bmi_not_measured_reason="Ms Secret declined",
        kl_radiograph_on=dt.date(2026, 1, 20),
        kl_radiograph_view="rosenberg",
        kl_compartments=["patellofemoral", "medial"],
        alignment_method="short_knee",
        symptom_duration_months=40,
        effusion="present",
        effusion_aspirated_ml=Decimal("22.5"),
        diabetes="type_2",
        antithrombotic="both",
        smoking="unknown",
    )
    return record(clinician, injection)


EXPECTED = {
    "bmi": "",
    "bmi_status": "not_measured",
    "kl_radiograph_on": "2026-01-20",
    "kl_radiograph_view": "rosenberg",
    "kl_compartments": "patellofemoral;medial",
    "alignment_method": "short_knee",
    "symptom_duration_months": "40",
    "effusion": "present",
    "effusion_aspirated_ml": "22.5",
    "diabetes": "type_2",
    "antithrombotic": "both",
    "immunosuppression": "",
    "smoking": "unknown",
}


def test_every_factor_but_free_text_is_a_column():
    assert set(SELECTION_COLUMNS) == set(selection.NEW_FIELDS) - {"bmi_not_measured_reason"}
    assert set(SELECTION_COLUMNS) <= set(HEADER)
    assert HEADER.index("bmi") + 1 == HEADER.index(SELECTION_COLUMNS[0])


@pytest.mark.django_db
def test_csv_columns_on_both_paths(event):
    events = AdverseEvent.objects.all()
    paths = [csv_export._python_chunks]
    if connection.vendor == "postgresql":  # COPY is PostgreSQL's; elsewhere the export streams from Python
        paths.append(csv_export._copy_chunks)
    for chunks in paths:
        text = b"".join(chunks(events)).decode()
        row = dict(zip(HEADER, list(csv.reader(io.StringIO(text)))[1], strict=True))
        assert {key: row[key] for key in EXPECTED} == EXPECTED
        assert "Secret" not in text


@pytest.mark.django_db
def test_xlsx_columns(event):
    target = io.BytesIO()
    write_xlsx(target, events=AdverseEvent.objects.all(), summary=[], filters_text="all")
    detail = list(load_workbook(io.BytesIO(target.getvalue()), read_only=True)["Detail"].iter_rows(values_only=True))
    row = dict(zip(detail[0], detail[1], strict=True))
    assert (row["kl_compartments"], row["effusion_aspirated_ml"], row["symptom_duration_months"]) == (
        "patellofemoral;medial",
        22.5,
        40,
    )
    assert (row["bmi_status"], row["bmi"], row["diabetes"]) == ("not_measured", None, "type_2")

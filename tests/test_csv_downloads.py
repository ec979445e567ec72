"""Every CSV download opens in Excel with its accents intact: it starts with a UTF-8 byte-order mark, which Excel
needs to read the file as UTF-8 (registry/downloads.py). ``encoding=utf-8`` gives plain UTF-8 for scripts."""

import codecs
import csv
import io
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from registry import services
from tests.factories import make_injection
from tests.safety.ae_support import record

ROOT = Path(__file__).resolve().parent.parent
NAME = "Clínica Peñalver — Genou"
BOM = codecs.BOM_UTF8


@pytest.fixture
def data(clinic, clinician, patient):
    clinic.name = NAME
    clinic.save()
    injection = make_injection(patient, clinician)
    record(clinician, injection, description="Épanchement, genou gauche; 痛み")
    services.patient_update(patient=patient, by=clinician, data={"sex": "male"}, reason="Corrigé: sexe")
    return injection


def dashboard_csv(client, **params):
    return client.get(reverse("outcomes:dashboard-csv", args=["completion_by_clinic"]), params)


def adverse_events_csv(client, **params):
    return client.post(reverse("safety:export-page"), {"format": "csv", **params})


def audit_csv(client, **params):
    return client.get(reverse("audit:export"), params)


def knee_replacement_csv(client, **params):
    return client.get(reverse("outcomes:knee-replacement-csv"), params)


def fallback_paths_csv(client, **params):
    return client.get(reverse("consultations:fallback-paths-csv"), params)


def reminder_comparison_csv(client, **params):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from outcomes.models import ReminderComparison
    from outcomes.reminders import comparison_start
    from registry.models import Clinic

    comparison = ReminderComparison.objects.first() or comparison_start(
        clinic=Clinic.objects.get(name=NAME),
        by=get_user_model().objects.get(username="lead_north"),
        question="¿Ayuda un SMS el día 7?",
        starts_on=timezone.localdate(),
        arm_a={"name": "SMS día 7", "text_reminder_days": [7]},
        arm_b={"name": "Sin SMS", "text_reminders": False},
    )
    return client.get(reverse("outcomes:reminder-comparison-csv", args=[comparison.pk]), params)


def consultations_csv(client, **params):
    return client.post(reverse("consultations:export-consultations"), params)


def reviews_csv(client, **params):
    return client.post(reverse("consultations:export-reviews"), params)


DOWNLOADS = {
    "outcomes:dashboard-csv": (dashboard_csv, NAME),
    "outcomes:knee-replacement-csv": (knee_replacement_csv, "Kaplan-Meier"),
    "outcomes:reminder-comparison-csv": (reminder_comparison_csv, "¿Ayuda un SMS el día 7?"),
    "safety:export-page": (adverse_events_csv, "Épanchement, genou gauche; 痛み"),
    "audit:export": (audit_csv, "Corrigé: sexe"),
    "consultations:fallback-paths-csv": (fallback_paths_csv, "repeat_product"),
    "consultations:export-consultations": (consultations_csv, "registry_number"),
    "consultations:export-reviews": (reviews_csv, "path_taken"),
}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("route", DOWNLOADS)
def test_every_csv_download_starts_with_a_byte_order_mark_unless_plain_utf8_is_asked_for(client, lead, data, route):
    fetch, text = DOWNLOADS[route]
    client.force_login(lead)
    response = fetch(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = body(response)
    assert raw.startswith(BOM)
    assert raw.count(BOM) == 1
    assert text in raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert not rows[0][0].startswith("\ufeff")  # read as utf-8-sig, the first cell is clean
    plain = body(fetch(client, encoding="utf-8"))
    assert not plain.startswith(BOM)
    assert plain == raw[len(BOM) :]


def test_the_list_names_every_csv_download():
    """A new view answering text/csv must be added above (and start with the mark)."""
    pattern = "text/csv|CONTENT_TYPES\\[ExportFormat.CSV\\]"
    apps = [*sorted(p.parent.name for p in ROOT.glob("*/apps.py")), "config"]
    command = ["grep", "-rlE", pattern, "--include=*.py", *apps]
    found = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False).stdout.split()
    producers = {
        "audit/views.py",
        "outcomes/views_dashboard.py",
        "outcomes/views_comparisons.py",
        "safety/views/exports.py",
        "safety/exports/service.py",
        "consultations/views_paths.py",
        "consultations/views_exports.py",
    }
    assert set(found) == producers, "a new CSV download? list it in DOWNLOADS"


def test_the_adverse_event_export_form_offers_the_choice(client, auditor, data):
    client.force_login(auditor)
    page = client.get(reverse("safety:export-page")).content.decode()
    assert 'name="encoding"' in page
    assert "For Excel" in page

"""The CSV export written by PostgreSQL (COPY) is byte for byte the one Python writes (SQLite's path), for awkward
data (nulls, unicode, commas, quotes, newlines, formula-looking text, every outcome, several protocols), and holds
exactly the rows of the scoped, filtered queryset. PostgreSQL only: in CI a skip of these fails the run."""

import codecs
import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.query import QuerySet

from registry.choices import Role
from registry.models import Injection
from safety import selectors
from safety.choices import Outcome
from safety.exports import csv_export
from safety.exports.rows import HEADER
from safety.models import AdverseEvent, ExportLog
from safety.selectors import EventFilters
from tests.factories import BMAC_PROTOCOL, ClinicFactory, PatientFactory, UserFactory, make_injection, staff
from tests.safety.ae_support import PRP_PROTOCOL, record, record_serious

pytestmark = [pytest.mark.django_db, pytest.mark.needs_services("postgres")]
URL = "/exports/adverse-events/"

HA_PROTOCOL = {
    "product_name": '-Durolane, "one shot"',
    "molecular_weight_kda": 6000,
    "cross_linked": "yes",
    "dose_mg": 60,
}
STEROID_PROTOCOL = {"drug": "triamcinolone_acetonide", "dose_mg": 40.5, "local_anaesthetic": "=lidocaine 1%"}
DESCRIPTIONS = [
    'Swollen knee, "hot" to touch; aspirated 20 mL, cultures negative.',
    "Épanchement — genou gauche; 痛み; 🦵 two lines:\nsecond line\r\nthird line",
    '=HYPERLINK("http://evil")',
    "+44 7700 900123 called",
    "-3 days after: flare",
    "@SUM(A1:A9)",
    "\tstarts with a tab",
    "\rstarts with a carriage return",
    "\\.",
    " leading space, trailing space ",
    "x" * 300,
]


def _event(by, injection, index: int, outcome: str, **overrides):
    dated = {"outcome_on": dt.date(2026, 3, 20)} if outcome not in (Outcome.RECOVERING, Outcome.NOT_RECOVERED) else {}
    data = {"description": DESCRIPTIONS[index % len(DESCRIPTIONS)], "outcome": outcome, "outcome_on": None, **dated}
    if outcome == Outcome.FATAL:
        return record_serious(by, injection, severity=5, serious_death=True, **data, **overrides)
    if index % 2:
        return record_serious(by, injection, **data, **overrides)
    return record(by, injection, **data, **overrides)


@pytest.fixture
def varied(clinic, clinician, other_clinic):
    """Events in the auditor's clinic (with an awkward name) and in another: BMAC, PRP, HA and steroid; every
    outcome; serious and not; every age band; nulls; and a few stored values no form would write."""
    clinic.name = 'St Mary\'s, "Knee" Unit'
    clinic.save()
    other_clinic.name = "=Other clinic"
    other_clinic.save()
    elsewhere = staff(other_clinic, Role.CLINICIAN)
    products = [
        ("bmac", dict(BMAC_PROTOCOL)),
        ("prp", dict(PRP_PROTOCOL, preparation_system="+Spin kit", platelet_count=1001, prp_count_method="analyser")),
        ("ha", HA_PROTOCOL),
        ("corticosteroid", STEROID_PROTOCOL),
    ]
    births = [1990, 1987, 1986, 1976, 1966, 1956, 1946, 1936]  # ages 36 to 90 in 2026, both sides of 39/40
    events = []
    for index, outcome in enumerate([*Outcome.values, *Outcome.values]):
        product, protocol = products[index % len(products)]
        here = index % 3 != 2
        by = clinician if here else elsewhere
        patient = PatientFactory(
            clinic=clinic if here else other_clinic, year_of_birth=births[index % len(births)], sex="male"
        )
        injection = make_injection(
            patient,
            by,
            product=product,
            protocol=protocol,
            injected_on=dt.date(2026, 3, 1 + index % 3),
            bmi=None if index % 4 == 0 else 27.5,
            bmi_status="not_measured" if index % 4 == 0 else "measured",
            # Selection factors with blanks, lists and decimals, so both paths are compared on each kind.
            kl_compartments=[[], ["medial"], ["patellofemoral", "medial"]][index % 3],
            kl_radiograph_on=dt.date(2026, 2, 1) if index % 2 else None,
            diabetes=["", "type_2", "unknown"][index % 3],
            effusion="present" if index % 2 else "",
            effusion_aspirated_ml=Decimal("12.5") if index % 2 else None,
            symptom_duration_months=index * 7 if index % 5 else None,
            volume_ml=Decimal("2.5") if product != "bmac" else 6,
        )
        causality = ["certain", "probable", "possible", "unlikely"][index % 4]
        onset = dt.date(2026, 3, 5 + index % 10)
        procedure = ["unlikely", "possible", "conditional", "certain"][index % 4]
        events.append(
            _event(
                by,
                injection,
                index,
                outcome,
                causality_product=causality,
                causality_procedure=procedure,
                onset_on=onset,
            )
        )
    # Stored values beyond the forms: microseconds and another zone, no assessment, MedDRA, JSON edge numbers.
    AdverseEvent.objects.filter(pk=events[0].pk).update(
        recorded_at=dt.datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        assessed_at=None,
        assessed_by=None,
        meddra_code="10003239",
        meddra_version="+27.0",
    )
    Injection.objects.filter(pk=events[1].index_injection_id).update(
        protocol={
            "leukocytes": None,
            "preparation_system": "",
            "dose_mg": -5,
            "tnc_per_ml": 1e16,
            "aspirate_volume_ml": 1.5e-7,
            "processing_method": True,
            "batch_lot": 'Ünïcode, "lot"\nline',
        }
    )
    return events


def both_paths(events: QuerySet) -> tuple[bytes, bytes]:
    assert csv_export.copy_available(events)
    copied = b"".join(csv_export._copy_chunks(events))
    built = b"".join(csv_export._python_chunks(events))
    return copied, built


def test_copy_writes_the_same_bytes_as_python(varied):
    events = AdverseEvent.objects.order_by("onset_on", "id")
    copied, built = both_paths(events)
    assert copied == built
    rows = list(csv.reader(io.StringIO(copied.decode(), newline="")))
    assert rows[0] == HEADER
    assert len(rows) == len(varied) + 1
    # ...and the bytes are what the conventions say, not merely equal.
    text = copied.decode()
    assert text.startswith(",".join(HEADER) + "\n")
    assert text.endswith("\n")
    assert not text.endswith("\r\n")
    by_id = {int(r[0]): dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    first, second = by_id[varied[0].pk], by_id[varied[1].pk]
    assert first["recorded_at"] == "2026-03-06T18:59:59Z"  # UTC, to the second
    assert first["assessed_at"] == ""
    assert first["meddra_version"] == "'+27.0"
    assert first["clinic"] == 'St Mary\'s, "Knee" Unit'
    assert first["bmi"] == ""
    assert first["volume_ml"] == "6.0"
    assert (first["bmi_status"], first["kl_compartments"], first["diabetes"]) == ("not_measured", "", "")
    assert (second["kl_compartments"], second["diabetes"], second["effusion"]) == ("medial", "type_2", "present")
    assert (second["effusion_aspirated_ml"], second["kl_radiograph_on"]) == ("12.5", "2026-02-01")
    assert by_id[varied[2].pk]["kl_compartments"] == "patellofemoral;medial"  # in the order recorded
    assert first["total_tnc_e6"] == "213.000"  # 35.5 ×10⁶/mL × 6 mL
    assert first["platelet_dose_e9"] == first["particle_dose"] == ""
    prp = next(r for r in by_id.values() if r["product"] == "prp" and r["preparation_system"] == "'+Spin kit")
    assert prp["platelet_dose_e9"] == "2.503"  # 1,001 ×10³/µL × 2.5 mL ÷ 1000 = 2.5025, rounded half up
    assert second["total_tnc_e6"] == ""  # a PRP record's stray TNC is not a BMAC dose
    assert second["dose_mg"] == "-5"  # a number, not text: no apostrophe
    assert second["tnc_per_ml"] == "10000000000000000"
    assert second["aspirate_volume_ml"] == "0.00000015"
    assert second["processing_method"] == "true"
    assert second["leukocytes"] == second["preparation_system"] == ""
    assert second["batch_lot"] == 'Ünïcode, "lot"\nline'
    assert {r["outcome_e2b_r3"] for r in by_id.values()} == {"0", "1", "2", "3", "4", "5"}
    assert {r["age_band"] for r in by_id.values()} == {"0-39", "40-49", "50-59", "60-69", "70-79", "80+"}
    assert {r["status"] for r in by_id.values()} == {"open", "resolved"}
    assert {r["serious"] for r in by_id.values()} == {"true", "false"}
    descriptions = {r["description"] for r in by_id.values()}
    for expected in ("'=HYPERLINK", "'+44", "'-3 days", "'@SUM", "'\tstarts", "'\rstarts"):
        assert any(d.startswith(expected) for d in descriptions), expected
    assert "\\." in descriptions
    assert ',"\\.",' not in text
    assert ",\\.," in text
    assert ',"",' not in text  # an empty string is an empty cell, never ""


def test_an_empty_export_is_the_header_on_both_paths(db):
    copied, built = both_paths(AdverseEvent.objects.order_by("onset_on", "id"))
    assert copied == built == (",".join(HEADER) + "\n").encode()


def test_both_paths_write_the_same_byte_order_mark_for_excel(varied):
    events = AdverseEvent.objects.order_by("onset_on", "id")
    copied = b"".join(csv_export._copy_chunks(events, bom=True))
    built = b"".join(csv_export._python_chunks(events, bom=True))
    assert copied == built
    assert copied.startswith(codecs.BOM_UTF8 + b"event_id,")
    assert copied[len(codecs.BOM_UTF8) :] == both_paths(events)[0]
    assert "Épanchement" in copied.decode("utf-8-sig")


def test_the_view_streams_copy_output_with_the_rows_of_the_scoped_queryset(client, auditor, varied):
    """Every filter combination: the download is the queryset's rows, in its order, byte-equal to Python's."""
    client.force_login(auditor)
    period = {"onset_from": "2026-03-01", "onset_to": "2026-03-31"}
    cases = [
        ({}, EventFilters()),
        (period, EventFilters(onset_from=dt.date(2026, 3, 1), onset_to=dt.date(2026, 3, 31))),
        ({"onset_from": "2026-03-09"}, EventFilters(onset_from=dt.date(2026, 3, 9))),
        ({"product": "prp"}, EventFilters(product="prp")),
        ({"serious": "true"}, EventFilters(serious=True)),
        ({"serious": "false"}, EventFilters(serious=False)),
        ({"causality": ["certain", "possible"]}, EventFilters(causality=["certain", "possible"])),
        (
            {"clinic": str(varied[0].clinic_id), "product": "ha"},
            EventFilters(clinic_ids=[varied[0].clinic_id], product="ha"),
        ),
    ]
    seen_any = set()
    for params, filters in cases:
        response = client.post(URL, {**params, "format": "csv"})
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        expected = selectors.events_for_export(auditor, filters)
        ids = [int(row["event_id"]) for row in csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline=""))]
        assert ids == list(expected.values_list("id", flat=True)), params
        assert body == b"".join(csv_export._python_chunks(expected, bom=True)), params
        assert ExportLog.objects.order_by("-id").first().row_count == len(ids)
        seen_any.update(ids)
    other = {e.pk for e in varied if e.clinic_id != varied[0].clinic_id}
    assert other
    assert not (seen_any & other)
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    body = b"".join(client.post(URL, {"format": "csv"}).streaming_content)
    assert body == b"".join(csv_export._python_chunks(AdverseEvent.objects.order_by("onset_on", "id"), bom=True))


def test_copy_is_relayed_in_64_kb_chunks_and_logs_its_row_count(client, auditor, clinician, clinic, monkeypatch):
    for _ in range(12):
        record(clinician, make_injection(PatientFactory(clinic=clinic), clinician), description="y" * 9000)
    seen = []
    monkeypatch.setattr(QuerySet, "iterator", lambda *a, **k: seen.append(1))
    client.force_login(auditor)
    response = client.post(URL, {"format": "csv"})
    # One more event recorded between the click and the first byte: the log ends with what COPY wrote.
    record(clinician, make_injection(PatientFactory(clinic=clinic), clinician), description="y" * 9000)
    chunks = list(response.streaming_content)
    assert seen == []  # no Python rows: PostgreSQL wrote them
    assert len(chunks) == 2
    assert csv_export.CHUNK_BYTES <= len(chunks[0]) < csv_export.CHUNK_BYTES + 9500
    assert ExportLog.objects.get().row_count == 13


@pytest.mark.django_db(transaction=True)
def test_a_download_stopped_half_way_cancels_the_copy_and_leaves_the_connection_usable(clinic, monkeypatch):
    clinician = staff(clinic, Role.CLINICIAN)
    for _ in range(12):
        record(clinician, make_injection(PatientFactory(clinic=clinic), clinician), description="z" * 9000)
    done = []
    stream = csv_export.csv_chunks(AdverseEvent.objects.order_by("onset_on", "id"), on_done=done.append)
    assert len(next(stream)) >= csv_export.CHUNK_BYTES
    stream.close()
    assert done == []  # not logged as complete
    assert AdverseEvent.objects.count() == 12
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_other_clinics_auditor_gets_only_the_header(client, varied):
    stranger = staff(ClinicFactory(), Role.AUDITOR)
    client.force_login(stranger)
    body = b"".join(client.post(URL, {"format": "csv", "encoding": "utf-8"}).streaming_content)
    assert body == (",".join(HEADER) + "\n").encode()


def test_a_combined_injection_names_every_component_the_same_way_in_both_paths(clinician, patient):
    injection = make_injection(
        patient,
        clinician,
        components=[
            {"product": "bmac", "route": "intra_articular", "site": "=superolateral", "volume_ml": 6,
             "protocol": dict(BMAC_PROTOCOL)},
            {"product": "prp", "volume_ml": Decimal("4.5"), "protocol": dict(PRP_PROTOCOL)},
            {"product": "bmac", "route": "intraosseous_tibial", "volume_ml": 2, "protocol": dict(BMAC_PROTOCOL)},
        ],
    )  # fmt: skip
    record(clinician, injection)
    copied, built = both_paths(AdverseEvent.objects.order_by("id"))
    assert copied == built
    (row,) = [dict(zip(HEADER, r, strict=True)) for r in list(csv.reader(io.StringIO(copied.decode())))[1:]]
    assert row["product"] == "bmac"  # the principal product, as before
    assert row["components"] == (
        "bmac intra_articular 6.0 mL + prp intra_articular 4.5 mL + bmac intraosseous_tibial 2.0 mL"
    )
    assert "superolateral" not in copied.decode()  # free text stays out of exports

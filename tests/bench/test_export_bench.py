"""The export benchmark at a small size: padding writes valid, varied events fast; the record counter of the
streamed CSV is right across chunk boundaries; the reference and the real export agree on the rows."""

import csv
import io

import pytest
from django.db.models import F

from bench import export_bench
from registry.choices import Role
from safety.exports import csv_export
from safety.models import AdverseEvent
from safety.selectors import EventFilters, events_for_export
from tests.factories import PatientFactory, UserFactory, make_injection, staff


def test_the_record_counter_ignores_newlines_inside_quotes_across_chunks():
    rows = [["1", 'a "quoted"\nnarrative, with comma', "x"], ["2", "plain", "\r\n"], ["3", "", '""\n""']]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    data = text.getvalue().encode()
    for size in (1, 2, 3, 7, len(data)):
        counter = export_bench.LineCounter()
        for start in range(0, len(data), size):
            counter.feed(data[start : start + size])
        assert counter.lines == len(rows), size


@pytest.mark.django_db
@pytest.mark.needs_services("postgres")
def test_padding_writes_valid_varied_events_that_export_identically(clinic, other_clinic):
    for where in (clinic, other_clinic):
        clinician = staff(where, Role.CLINICIAN)
        for product in ("bmac", "prp"):
            protocol = {} if product == "bmac" else {"leukocytes": "poor", "spins": 2, "activation": "none"}
            kwargs = {"protocol": protocol} if protocol else {}
            make_injection(PatientFactory(clinic=where), clinician, product=product, **kwargs)
    UserFactory(is_superuser=True, is_staff=True)

    padding = export_bench.pad_events(600)
    assert padding == {"events": 600, "padded": 600, "pad_seconds": padding["pad_seconds"]}
    assert export_bench.pad_events(600)["padded"] == 0  # already there: nothing added
    events = AdverseEvent.objects.all()
    # Foreign-key triggers were off while padding: every reference must still hold, by construction.
    assert events.filter(patient__clinic_id=F("clinic_id")).count() == 600
    assert events.filter(index_injection__patient_id=F("patient_id")).count() == 600
    assert events.filter(recorded_by__username__isnull=False).count() == 600
    through = AdverseEvent.injections.through.objects
    assert through.filter(injection_id=F("adverseevent__index_injection_id")).count() == 600
    assert 0 < events.filter(is_serious=True).count() < 120
    assert events.values("outcome").distinct().count() >= 5
    assert events.values("category").distinct().count() >= 8
    lengths = [len(d) for d in events.values_list("description", flat=True)]
    assert min(lengths) >= 100
    assert max(lengths) <= 300
    assert events.filter(description__contains='"').exists()
    assert events.filter(description__contains="\n").exists()

    assert export_bench.copy_reference()["rows"] == 600
    assert export_bench.copy_reference(export_bench.UNORDERED_SQL)["rows"] == 600
    measured = export_bench.measure_view("copy")
    assert measured["rows"] == 600
    assert measured["rows_per_s"] > 0
    admin_events = events_for_export(UserFactory(is_superuser=True, is_staff=True), EventFilters())
    assert b"".join(csv_export._copy_chunks(admin_events)) == b"".join(csv_export._python_chunks(admin_events))

"""One action on an adverse event writes one audit row: recording it (directly or from a flag) and a correction
that relinks its injections each show once in its history, with the injections as they ended up."""

import pytest

from safety import services
from safety.selectors import event_trail
from tests.safety.ae_support import event_data, record
from tests.safety.test_events_services import flag  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_recording_from_a_flag_writes_one_history_row(flag, clinician):  # noqa: F811
    import datetime as dt

    injection = flag.follow_up.plan.injections.get()
    event = services.flag_record_event(
        flag=flag,
        by=clinician,
        data=event_data(injection, onset_on=dt.date(2026, 3, 28), outcome_on=dt.date(2026, 4, 2)),
    )
    rows = list(event.history.all())
    assert [r.history_change_reason for r in rows] == [f"Recorded from flag #{flag.pk}"]
    assert [i.injection_id for i in rows[0].injections.all()] == [injection.pk]
    assert [e.reason for e in event_trail(event)] == [f"Recorded from flag #{flag.pk}"]
    assert flag.history.count() == 2  # raised; event recorded


def test_recording_directly_writes_one_history_row(clinician, injection):
    event = record(clinician, injection)
    assert [r.history_type for r in event.history.all()] == ["+"]


def test_a_correction_that_relinks_injections_writes_one_history_row(clinician, patient, injection):
    import datetime as dt

    from tests.factories import make_injection

    second = make_injection(patient, clinician, knee="right", injected_on=dt.date(2026, 3, 3))
    event = record(clinician, injection)
    services.adverse_event_correct(
        event=event,
        by=clinician,
        data={"injections": [second], "severity": 3},
        reason="Right knee, not left",
        expected_version=1,
    )
    rows = list(event.history.order_by("history_date", "history_id"))
    assert [r.history_change_reason for r in rows] == ["Recorded", "Right knee, not left"]
    assert [i.injection_id for i in rows[-1].injections.all()] == [second.pk]
    trail = event_trail(event)
    assert len(trail) == 2
    assert {c.field for c in trail[-1].changes} >= {"severity", "injections"}

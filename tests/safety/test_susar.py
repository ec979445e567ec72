"""Issue 15: SUSAR candidates (serious, unexpected, at least possibly related, after a study product) and their ICH
E2A clocks (standards.md 6.5: fatal or life-threatening 7 days, others 15, from the day the clinic first knew),
on the event page and the attention page, until an initial report is recorded."""

import datetime as dt
import itertools

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from safety import selectors, services
from safety.models import AdverseEvent
from tests.factories import PatientFactory, make_injection
from tests.safety.ae_support import AWARE, ONSET, make_study_injection, susar

pytestmark = pytest.mark.django_db
ATTENTION = "/attention/"


def _at(day: dt.date):
    return time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False)


@pytest.fixture
def study_injection(patient, clinician):
    return make_study_injection(patient, clinician)


# --- the rule --------------------------------------------------------------------------------------------------

TRUTH_TABLE = list(
    itertools.product(
        [True, False],  # serious
        ["unexpected", "expected"],
        [("possible", "unlikely"), ("unlikely", "probable"), ("unlikely", "unassessable")],  # product, procedure
        [True, False],  # study product
    )
)


def test_the_rule_is_the_same_in_python_and_in_sql_for_every_combination(clinician, patient, study_injection):
    ordinary = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 1))
    expected = {}
    for serious, expectedness, (product, procedure), on_study in TRUTH_TABLE:
        seriousness = {} if serious else {"serious_hospitalisation": False, "category": "effusion"}
        event = susar(
            clinician,
            study_injection if on_study else ordinary,
            expectedness=expectedness,
            causality_product=product,
            causality_procedure=procedure,
            **seriousness,
        )
        related = bool({product, procedure} & {"certain", "probable", "possible"})
        expected[event.pk] = serious and expectedness == "unexpected" and related and on_study
        assert event.is_susar_candidate is expected[event.pk], (serious, expectedness, product, procedure, on_study)
    annotated = dict(AdverseEvent.objects.with_susar().values_list("pk", "susar_candidate"))
    assert annotated == expected
    assert set(AdverseEvent.objects.susar_candidates().values_list("pk", flat=True)) == {
        pk for pk, candidate in expected.items() if candidate
    }
    # 2 of the 24 combinations: serious, unexpected, related to either (not "unassessable"), on a study product.
    assert sum(expected.values()) == 2


def test_either_causality_at_least_possible_is_enough(clinician, study_injection):
    by_product = susar(clinician, study_injection, causality_product="possible", causality_procedure="unlikely")
    by_procedure = susar(clinician, study_injection, causality_product="unlikely", causality_procedure="certain")
    neither = susar(clinician, study_injection, causality_product="unlikely", causality_procedure="conditional")
    assert (by_product.is_susar_candidate, by_procedure.is_susar_candidate) == (True, True)
    assert not neither.is_susar_candidate


# --- the clocks, at their boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "day", "days_left"),
    [
        ({"serious_life_threatening": True, "severity": 4}, 6, 1),
        ({"serious_life_threatening": True, "severity": 4}, 7, 0),  # day 7: due today
        ({"serious_life_threatening": True, "severity": 4}, 8, -1),  # day 8: overdue
        ({}, 14, 1),
        ({}, 15, 0),  # day 15: due today
        ({}, 16, -1),  # day 16: overdue
    ],
)
def test_the_clock_counts_calendar_days_from_day_0(client, clinician, study_injection, criteria, day, days_left):
    event = susar(clinician, study_injection, **criteria)
    today = AWARE + dt.timedelta(days=day)
    assert event.susar_clock_days == (7 if criteria else 15)
    with _at(today):
        status = selectors.susar_status(event)
        assert status.days_left == days_left
        assert status.due_on == AWARE + dt.timedelta(days=event.susar_clock_days)
        client.force_login(clinician)
        page = client.get(reverse("safety:event-detail", args=[event.pk])).content.decode()
        attention = client.get(ATTENTION).content.decode()
    section = attention.split('id="susar"', 1)[1].split("</section>", 1)[0]
    assert f"/adverse-events/{event.pk}/" in section
    shown = {1: "1 day left", 0: "Due today", -1: "Overdue by 1 day"}[days_left]
    assert shown in section
    assert shown.lower() in page.lower()


def test_a_fatal_or_life_threatening_event_shows_its_follow_up_day(clinician, study_injection):
    event = susar(clinician, study_injection, serious_life_threatening=True, severity=4)
    assert event.susar_report_due_on == AWARE + dt.timedelta(days=7)
    assert event.susar_follow_up_due_on == AWARE + dt.timedelta(days=15)  # 8 more days
    other = susar(clinician, study_injection)
    assert other.susar_follow_up_due_on is None


def test_day_0_is_the_recording_day_unless_the_clinic_knew_earlier(clinician, study_injection):
    event = susar(clinician, study_injection, aware_on=None)
    assert event.aware_on == timezone.localdate()
    with pytest.raises(ValidationError) as caught:
        susar(clinician, study_injection, aware_on=ONSET - dt.timedelta(days=1))
    assert "aware_on" in caught.value.message_dict


# --- reporting stops the clock ----------------------------------------------------------------------------------


def test_an_initial_report_takes_the_event_off_the_clock_list(client, clinician, study_injection):
    event = susar(clinician, study_injection)
    assert list(AdverseEvent.objects.susar_clocks_running()) == [event]
    services.regulatory_report_record(
        event=event,
        by=clinician,
        data={"route": "sponsor", "kind": "follow_up", "submitted_on": AWARE, "reference": "F-1"},
    )
    assert list(AdverseEvent.objects.susar_clocks_running()) == [event]  # a follow-up alone does not stop it
    services.regulatory_report_record(
        event=event,
        by=clinician,
        data={"route": "mhra_yellow_card", "submitted_on": AWARE + dt.timedelta(days=2), "reference": "GB-123"},
    )
    assert not AdverseEvent.objects.susar_clocks_running().exists()
    client.force_login(clinician)
    attention = client.get(ATTENTION).content.decode()
    assert f"/adverse-events/{event.pk}/" not in attention.split('id="susar"', 1)[1].split("</section>", 1)[0]
    page = client.get(reverse("safety:event-detail", args=[event.pk])).content.decode()
    assert "Reported on 8 Mar 2026 to MHRA Yellow Card, ref GB-123" in page


def test_another_clinics_candidates_are_not_listed(client, outsider, clinician, study_injection):
    event = susar(clinician, study_injection)
    client.force_login(outsider)
    html = client.get(ATTENTION).content.decode()
    assert f"/adverse-events/{event.pk}/" not in html
    assert event.patient.registry_number not in html


def test_the_attention_page_query_count_does_not_grow_with_candidates(
    client, clinician, clinic, django_assert_max_num_queries
):
    def candidate():
        patient = PatientFactory(clinic=clinic)
        susar(clinician, make_study_injection(patient, clinician))

    candidate()
    client.force_login(clinician)
    client.get(ATTENTION)  # warm caches (session, content types)
    with django_assert_max_num_queries(25) as small:
        client.get(ATTENTION)
    for _ in range(4):
        candidate()
    with django_assert_max_num_queries(len(small.captured_queries)):
        html = client.get(ATTENTION).content.decode()
    assert html.split('id="susar"', 1)[1].count("/adverse-events/") == 5

"""A cached dashboard summary is never staler than the last commit, whatever wrote it: for every write path, a
summary read (and cached), the write, then a summary read again shows the change."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from outcomes.analysis.summary import outcomes_summary
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.services import follow_ups_close_overdue
from registry import services
from registry.models import Injection, Patient
from tests.factories import PatientFactory, make_injection, staff
from tests.outcomes.analysis_data import make_plan, submit_scores
from tests.registry.test_admin import admin_clinician, patient_admin_data  # noqa: F401 - a fixture
from tests.safety.ae_support import record, record_serious

TODAY = dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _cached_summaries(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DASHBOARD_CACHE_SECONDS = 600  # far longer than any test: only a fresh version can explain a change
    cache.clear()
    with time_machine.travel(TODAY, tick=False):
        yield
    cache.clear()


@pytest.fixture
def plan(clinic, clinician, patient):
    """One plan of the clinic, baseline answered, the 1-month follow-up open and the 6-month scheduled."""
    return make_plan(
        clinic,
        clinician,
        patient=patient,
        scores={"baseline": {"pain": 40, "adl": 50, "vas": 60}},
        statuses={"1m": FollowUpStatus.OPEN, "6m": FollowUpStatus.SCHEDULED},
    )


def summary(user) -> dict:
    return outcomes_summary(user, {})


def cached(user) -> dict:
    """The summary, read twice so the second is certainly the cached one."""
    first = summary(user)
    assert summary(user) == first
    return first


def completion(result, timepoint: str) -> dict:
    return next(c for c in result["completion"] if c["timepoint"] == timepoint)


def events(result) -> int:
    return sum(row.get("events", 0) for row in result["adverse_events"]["rows"])


def test_the_summary_is_cached(plan, clinician):
    before = cached(clinician)
    # A write that no trigger sees (the cache itself) proves the second read came from the cache.
    FollowUp.objects.filter(plan=plan, timepoint=Timepoint.ONE_MONTH).update(status=FollowUpStatus.MISSED)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM outcomes_planoutcomequeue")
    assert summary(clinician) == before


def test_an_injection_recorded(plan, clinic, clinician):
    assert cached(clinician)["plans"] == 1
    make_injection(PatientFactory(clinic=clinic), clinician)
    assert summary(clinician)["plans"] == 2


def test_consent_withdrawn(plan, clinician, patient):
    assert completion(cached(clinician), "6m")["cancelled"] == 0
    services.patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved away")
    assert completion(summary(clinician), "6m")["cancelled"] == 1


def test_consent_to_analysis_withdrawn_in_a_correction(plan, clinician, patient):
    assert cached(clinician)["plans"] == 1
    services.patient_update(patient=patient, by=clinician, data={"consent_registry": False}, reason="Asked")
    assert summary(clinician)["plans"] == 0


def test_a_follow_up_missed_by_the_sweep(plan, clinician):
    FollowUp.objects.filter(plan=plan, timepoint=Timepoint.ONE_MONTH).update(
        opens_on=dt.date(2026, 3, 20), due_on=dt.date(2026, 3, 25), closes_on=dt.date(2026, 3, 31)
    )
    assert completion(cached(clinician), "1m")["missed"] == 0
    assert follow_ups_close_overdue()  # a bulk UPDATE of every overdue follow-up
    assert completion(summary(clinician), "1m")["missed"] == 1


def test_a_submission(plan, clinician):
    assert completion(cached(clinician), "1m")["completed"] == 0
    submit_scores(FollowUp.objects.get(plan=plan, timepoint=Timepoint.ONE_MONTH), pain=70)
    assert completion(summary(clinician), "1m")["completed"] == 1


def test_an_injection_corrected(plan, clinician):
    assert [r["kl_grade"] for r in cached(clinician)["responders_by_kl"]] == [2]
    services.injection_update(injection=plan.injections.get(), by=clinician, data={"kl_grade": 4}, reason="X-ray")
    assert [r["kl_grade"] for r in summary(clinician)["responders_by_kl"]] == [4]


def test_a_bulk_update(plan, clinician):
    assert cached(clinician)["plans"] == 1
    Injection.objects.filter(plan=plan).update(status="planned")
    assert summary(clinician)["plans"] == 0


def test_raw_sql(plan, clinician):
    assert completion(cached(clinician), "1m")["missed"] == 0
    with connection.cursor() as cursor:
        cursor.execute("UPDATE outcomes_followup SET status = 'missed' WHERE plan_id = %s", [plan.pk])
    assert completion(summary(clinician), "1m")["missed"] == 1


def test_a_patient_moved_to_another_clinic_leaves_the_old_clinics_summary(plan, clinician, patient, other_clinic):
    assert cached(clinician)["plans"] == 1
    Patient.objects.filter(pk=patient.pk).update(clinic=other_clinic)
    assert summary(clinician)["plans"] == 0


def test_an_admin_edit(plan, client, admin_clinician, patient):  # noqa: F811 - the fixture imported above
    assert cached(admin_clinician)["plans"] == 1
    client.force_login(admin_clinician)
    data = patient_admin_data(patient, change_reason="No longer consents to analysis")
    del data["consent_registry"]  # unticked
    response = client.post(reverse("admin:registry_patient_change", args=[patient.pk]), data)
    assert response.status_code == 302
    assert summary(admin_clinician)["plans"] == 0


def test_an_adverse_event_recorded_and_corrected(plan, clinician):
    from safety import services

    assert events(cached(clinician)) == 0
    event = record(clinician, plan.injections.get())
    after = summary(clinician)
    assert events(after) == 1
    assert summary(clinician) == after  # cached again
    services.adverse_event_correct(
        event=event,
        by=clinician,
        data={"serious_hospitalisation": True, "outcome": "recovering", "outcome_on": None},
        reason="Admitted",
        expected_version=event.version,
    )
    assert summary(clinician)["adverse_events"] != after["adverse_events"]


def test_an_adverse_event_changed_in_raw_sql(plan, clinician):
    record_serious(clinician, plan.injections.get())
    before = cached(clinician)["adverse_events"]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE safety_adverseevent SET serious_hospitalisation = %s, is_serious = %s", [False, False])
    assert summary(clinician)["adverse_events"] != before


def test_a_change_in_one_clinic_keeps_the_other_clinics_cache(plan, clinician, other_clinic, outsider):
    elsewhere = cached(outsider)
    make_injection(PatientFactory(clinic=other_clinic), outsider)
    assert summary(outsider)["plans"] == elsewhere["plans"] + 1
    kept = cached(outsider)
    make_injection(PatientFactory(clinic=plan.patient.clinic), clinician)
    with connection.cursor() as cursor:  # were it recomputed, this unseen change would show
        cursor.execute("DELETE FROM outcomes_planoutcomequeue")
        cursor.execute("UPDATE outcomes_followup SET status = 'missed' WHERE clinic_id = %s", [other_clinic.pk])
        cursor.execute("DELETE FROM outcomes_planoutcomequeue")
    assert summary(outsider) == kept


def test_a_renamed_clinic_shows_its_new_name(plan, clinic, lead, other_clinic):
    staff(other_clinic, role="lead", username="both")
    user = type(lead).objects.get(username="both")
    from registry.models import Membership

    Membership.objects.create(user=user, clinic=clinic, role="lead")
    before = outcomes_summary(user, {"compare_by": "clinic"})
    assert clinic.name in {g["label"] for g in before["groups"]}
    type(clinic).objects.filter(pk=clinic.pk).update(name="Renamed Knee Clinic")
    after = outcomes_summary(user, {"compare_by": "clinic"})
    assert "Renamed Knee Clinic" in {g["label"] for g in after["groups"]}

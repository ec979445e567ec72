"""The follow-up schedule: windows, month ends, staged plans, moved injections, withdrawal, and statuses as the
days pass (time travel, never sleep)."""

import datetime as dt

import pytest

from outcomes.models import FollowUp, FollowUpStatus, Submission, Timepoint
from outcomes.schedule import add_months
from outcomes.services import follow_ups_close_overdue, follow_ups_open_due, questionnaire_submit
from registry.services import injection_update, patient_withdraw_consent
from tests.factories import make_injection
from tests.support.answers import answers_for
from tests.support.clock import travel_to

D = dt.date


def windows(injection):
    return {
        fu.timepoint: (fu.opens_on, fu.due_on, fu.closes_on, fu.status)
        for fu in FollowUp.objects.filter(plan=injection.plan)
    }


def test_recording_a_bmac_injection_schedules_baseline_safety_checks_and_four_follow_ups(recorded):
    assert recorded.plan.product == "bmac"  # a cell product: followed to 24 months (FOLLOW_UP_TIMEPOINTS_BY_PRODUCT)
    assert windows(recorded) == {
        # Baseline: open from recording (1 March) until 3 days after the injection (BASELINE_CLOSES_DAYS_...).
        Timepoint.BASELINE: (D(2026, 3, 1), D(2026, 3, 2), D(2026, 3, 5), FollowUpStatus.OPEN),
        # Safety checks (SAFETY_CHECK_WINDOWS): days 2-4 and 10-15 after the injection of 2 March.
        Timepoint.DAY_3: (D(2026, 3, 4), D(2026, 3, 4), D(2026, 3, 6), FollowUpStatus.SCHEDULED),
        Timepoint.DAY_12: (D(2026, 3, 12), D(2026, 3, 12), D(2026, 3, 17), FollowUpStatus.SCHEDULED),
        # 1 and 6 months: open 3 days before due, close 21 days after.
        Timepoint.ONE_MONTH: (D(2026, 3, 30), D(2026, 4, 2), D(2026, 4, 23), FollowUpStatus.SCHEDULED),
        Timepoint.SIX_MONTHS: (D(2026, 8, 30), D(2026, 9, 2), D(2026, 9, 23), FollowUpStatus.SCHEDULED),
        # 12 and 24 months: the same rule.
        Timepoint.TWELVE_MONTHS: (D(2027, 2, 27), D(2027, 3, 2), D(2027, 3, 23), FollowUpStatus.SCHEDULED),
        Timepoint.TWENTY_FOUR_MONTHS: (D(2028, 2, 28), D(2028, 3, 2), D(2028, 3, 23), FollowUpStatus.SCHEDULED),
    }


def test_follow_ups_carry_the_plan_patient_and_clinic(recorded, patient):
    for fu in FollowUp.objects.filter(plan=recorded.plan):
        assert (fu.patient_id, fu.clinic_id) == (patient.pk, patient.clinic_id)


def test_injection_recorded_on_the_day_opens_baseline_for_that_day_and_three_more(patient, clinician):
    with travel_to(D(2026, 3, 2), hour=8):
        injection = make_injection(patient, clinician)
    assert windows(injection)[Timepoint.BASELINE] == (D(2026, 3, 2), D(2026, 3, 2), D(2026, 3, 5), "open")


def test_injection_recorded_weeks_ahead_opens_baseline_at_recording(patient, clinician):
    with travel_to(D(2026, 2, 10)):
        injection = make_injection(patient, clinician, status="planned")
    assert windows(injection)[Timepoint.BASELINE][:3] == (D(2026, 2, 10), D(2026, 3, 2), D(2026, 3, 5))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2026, 8, 31), 6, D(2027, 2, 28)),
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),
    ],
)
def test_month_end_is_clamped(day, months, expected):
    assert add_months(day, months) == expected


def test_month_end_injection_schedule(patient, clinician):
    with travel_to(D(2026, 1, 30)):
        injection = make_injection(patient, clinician, injected_on=D(2026, 1, 31))
    w = windows(injection)
    assert w[Timepoint.ONE_MONTH][:3] == (D(2026, 2, 25), D(2026, 2, 28), D(2026, 3, 21))
    assert w[Timepoint.SIX_MONTHS][1] == D(2026, 7, 31)


def test_staged_plan_has_one_schedule_from_its_first_injection(clock, patient, clinician):
    first = make_injection(patient, clinician, planned_injections=3)
    with travel_to(D(2026, 3, 16)):
        second = make_injection(patient, clinician, planned_injections=3, number_in_plan=2, injected_on=D(2026, 3, 16))
    assert second.plan_id == first.plan_id
    # Baseline, the two safety checks, 1, 6, 12 and 24 months (BMAC): after the first injection only (per plan).
    assert FollowUp.objects.filter(plan=first.plan).count() == 7
    assert windows(first)[Timepoint.ONE_MONTH][1] == D(2026, 4, 2)  # from the first injection, not the second


def test_changing_the_injection_date_moves_open_follow_ups_but_never_completed_ones(recorded, clinician, baseline):
    questionnaire_submit(follow_up=baseline, data=answers_for(baseline))
    completed = windows(recorded)[Timepoint.BASELINE]

    injection_update(injection=recorded, by=clinician, data={"injected_on": D(2026, 3, 9)}, reason="Rebooked")

    moved = windows(recorded)
    assert moved[Timepoint.BASELINE] == completed
    assert moved[Timepoint.ONE_MONTH][:3] == (D(2026, 4, 6), D(2026, 4, 9), D(2026, 4, 30))
    assert moved[Timepoint.SIX_MONTHS][1] == D(2026, 9, 9)
    assert Submission.objects.get(follow_up=baseline).timepoint == Timepoint.BASELINE


def test_moving_an_unanswered_baseline_keeps_it_open_until_the_new_day(recorded, clinician):
    injection_update(injection=recorded, by=clinician, data={"injected_on": D(2026, 3, 5)}, reason="Rebooked")
    assert windows(recorded)[Timepoint.BASELINE] == (D(2026, 3, 1), D(2026, 3, 5), D(2026, 3, 8), "open")


def test_withdrawal_cancels_what_is_still_to_come(recorded, clinician, patient, baseline):
    questionnaire_submit(follow_up=baseline, data=answers_for(baseline))
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="No longer wishes to take part")
    statuses = {fu.timepoint: (fu.status, fu.cancelled_reason) for fu in FollowUp.objects.filter(plan=recorded.plan)}
    assert statuses[Timepoint.BASELINE] == (FollowUpStatus.COMPLETED, "")
    assert statuses[Timepoint.ONE_MONTH] == (FollowUpStatus.CANCELLED, "Consent withdrawn")
    assert statuses[Timepoint.SIX_MONTHS] == (FollowUpStatus.CANCELLED, "Consent withdrawn")


def status(injection, timepoint):
    return FollowUp.objects.get(plan=injection.plan, timepoint=timepoint).status


def sweep():
    follow_ups_open_due()
    follow_ups_close_overdue()


def test_statuses_follow_the_calendar(recorded):
    with travel_to(D(2026, 3, 5)):
        sweep()
        assert status(recorded, Timepoint.BASELINE) == FollowUpStatus.OPEN
    with travel_to(D(2026, 3, 6)):
        sweep()
        assert status(recorded, Timepoint.BASELINE) == FollowUpStatus.MISSED
        assert status(recorded, Timepoint.ONE_MONTH) == FollowUpStatus.SCHEDULED
    with travel_to(D(2026, 3, 29)):
        sweep()
        assert status(recorded, Timepoint.ONE_MONTH) == FollowUpStatus.SCHEDULED
    with travel_to(D(2026, 3, 30), hour=0):
        sweep()
        assert status(recorded, Timepoint.ONE_MONTH) == FollowUpStatus.OPEN
    with travel_to(D(2026, 4, 23), hour=23):
        sweep()
        assert status(recorded, Timepoint.ONE_MONTH) == FollowUpStatus.OPEN
    with travel_to(D(2026, 4, 24)):
        sweep()
        assert status(recorded, Timepoint.ONE_MONTH) == FollowUpStatus.MISSED
        assert status(recorded, Timepoint.SIX_MONTHS) == FollowUpStatus.SCHEDULED
    with travel_to(D(2026, 9, 24)):
        sweep()
        assert status(recorded, Timepoint.SIX_MONTHS) == FollowUpStatus.MISSED


def test_completed_follow_ups_are_never_swept(recorded, baseline):
    questionnaire_submit(follow_up=baseline, data=answers_for(baseline))
    with travel_to(D(2027, 1, 1)):
        sweep()
    assert status(recorded, Timepoint.BASELINE) == FollowUpStatus.COMPLETED


def test_the_sweep_uses_the_clinic_day(patient, clinician, clinic):
    # 12:30 UTC on 29 March is already 30 March in Auckland.
    clinic.time_zone = "Pacific/Auckland"
    clinic.save()
    with travel_to(D(2026, 3, 1)):
        injection = make_injection(patient, clinician)
    with travel_to(dt.datetime(2026, 3, 29, 12, 30, tzinfo=dt.UTC)):
        sweep()
    assert status(injection, Timepoint.ONE_MONTH) == FollowUpStatus.OPEN

"""The review list's rule at its boundaries (consultations.reviews): the review point, the follow-up it reads, the
MCID reached exactly (improved) or missed by one point, missing and late follow-ups, and scoping."""

import datetime as dt

import pytest

from consultations.reviews import finding_now, review_list
from outcomes.models import FollowUpStatus
from tests.consultations.review_data import BASELINE, PAST_REVIEW, RESPONDER_6M, at, course


def listed(user, moment=PAST_REVIEW) -> dict[int, str]:
    with at(moment):
        return {c.pk: c.finding for c in review_list(user)}


@pytest.mark.django_db
def test_exactly_at_the_mcid_is_improved_one_point_below_is_not(clinic, clinician):
    at_mcid = course(clinic, clinician, rule="mcid_koos_pain", scores={"baseline": BASELINE, "6m": {"pain": 51.3}})
    below = course(clinic, clinician, rule="mcid_koos_pain", scores={"baseline": BASELINE, "6m": {"pain": 50.3}})
    assert listed(clinician) == {below.pk: "not_improved"}
    assert finding_now(at_mcid, today=PAST_REVIEW.date())[0] == "improved"


@pytest.mark.django_db
def test_the_default_rule_is_any_one_of_koos_pain_oks_and_responder(clinic, clinician):
    improved = course(clinic, clinician, scores={"baseline": BASELINE, "6m": RESPONDER_6M})
    oks_short = course(clinic, clinician, scores={"baseline": BASELINE, "6m": {**RESPONDER_6M, "oks": 26}})
    oks_at_mcid = course(clinic, clinician, scores={"baseline": BASELINE, "6m": {**RESPONDER_6M, "oks": 27}})
    assert listed(clinician) == {oks_short.pk: "not_improved"}
    assert finding_now(improved, today=PAST_REVIEW.date())[0] == "improved"
    assert finding_now(oks_at_mcid, today=PAST_REVIEW.date())[0] == "improved"


@pytest.mark.django_db
def test_a_missed_follow_up_or_no_baseline_is_follow_up_missing(clinic, clinician):
    missed = course(clinic, clinician, scores={"baseline": BASELINE})  # 6m missed (make_plan's default)
    no_baseline = course(clinic, clinician, scores={"6m": RESPONDER_6M})
    assert listed(clinician) == {missed.pk: "no_follow_up", no_baseline.pk: "no_follow_up"}


@pytest.mark.django_db
def test_an_open_follow_up_waits_until_its_due_day_has_passed(clinic, clinician):
    plan = course(
        clinic,
        clinician,
        scores={"baseline": BASELINE},
        statuses={"6m": FollowUpStatus.OPEN},
        due={"6m": dt.date(2026, 9, 10)},
    )
    assert listed(clinician, dt.datetime(2026, 9, 10, 12, tzinfo=dt.UTC)) == {}
    assert listed(clinician, dt.datetime(2026, 9, 11, 12, tzinfo=dt.UTC)) == {plan.pk: "no_follow_up"}


@pytest.mark.django_db
def test_nothing_is_listed_before_the_review_point(clinic, clinician):
    plan = course(clinic, clinician, scores={"baseline": BASELINE})
    assert listed(clinician, dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)) == {}
    assert listed(clinician, dt.datetime(2026, 9, 2, 12, tzinfo=dt.UTC)) == {plan.pk: "no_follow_up"}
    assert finding_now(plan, today=dt.date(2026, 9, 2))[1] == dt.date(2026, 9, 2)


@pytest.mark.django_db
def test_a_twelve_month_review_reads_the_twelve_month_follow_up(clinic, clinician):
    poor_at_6_good_at_12 = course(
        clinic,
        clinician,
        rule="mcid_koos_pain",
        months=12,
        scores={"baseline": BASELINE, "6m": {"pain": 41}, "12m": {"pain": 60}},
    )
    good_at_6_poor_at_12 = course(
        clinic,
        clinician,
        rule="mcid_koos_pain",
        months=12,
        scores={"baseline": BASELINE, "6m": {"pain": 60}, "12m": {"pain": 41}},
    )
    assert listed(clinician) == {}  # six months on, neither has reached its review point
    after_a_year = dt.datetime(2027, 3, 3, 12, tzinfo=dt.UTC)
    assert listed(clinician, after_a_year) == {good_at_6_poor_at_12.pk: "not_improved"}
    assert finding_now(poor_at_6_good_at_12, today=after_a_year.date()) == ("improved", dt.date(2027, 3, 2))


@pytest.mark.django_db
def test_patient_judgement_puts_the_course_on_the_list_to_ask(clinic, clinician):
    plan = course(clinic, clinician, rule="patient_judgement", scores={"baseline": BASELINE, "6m": RESPONDER_6M})
    assert listed(clinician) == {plan.pk: "ask_patient"}


@pytest.mark.django_db
def test_longest_waiting_first_and_other_clinics_never_shown(clinic, clinician, other_clinic, outsider):
    later = course(clinic, clinician, months=3, scores={"baseline": BASELINE})  # review point 2 Jun 2026
    earlier = course(clinic, clinician, months=1, scores={"baseline": BASELINE})  # 2 Apr 2026
    with at(PAST_REVIEW):
        assert [c.pk for c in review_list(clinician)] == [earlier.pk, later.pk]
        assert list(review_list(outsider)) == []
        assert [c.pk for c in review_list(clinician, clinic_id=other_clinic.pk)] == []
        assert [c.pk for c in review_list(clinician, finding="not_improved")] == []

"""A clinician's review of a flag: allowed status changes, the required dismissal reason, and the kept history."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from safety.choices import TRANSITIONS, FlagRule, FlagStatus
from safety.models import Flag
from safety.services import flag_dismiss, flag_raise, flag_start_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def flag(journey):
    submission = journey().one_month(**{"SAFETY.swelling": "yes"})
    flag, _ = flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    return flag


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (FlagStatus.OPEN, FlagStatus.IN_REVIEW, True),
        (FlagStatus.OPEN, FlagStatus.DISMISSED, True),
        (FlagStatus.OPEN, FlagStatus.EVENT_RECORDED, True),
        (FlagStatus.IN_REVIEW, FlagStatus.DISMISSED, True),
        (FlagStatus.IN_REVIEW, FlagStatus.EVENT_RECORDED, True),
        (FlagStatus.IN_REVIEW, FlagStatus.OPEN, False),
        (FlagStatus.IN_REVIEW, FlagStatus.IN_REVIEW, False),
        (FlagStatus.DISMISSED, FlagStatus.IN_REVIEW, False),
        (FlagStatus.DISMISSED, FlagStatus.OPEN, False),
        (FlagStatus.EVENT_RECORDED, FlagStatus.DISMISSED, False),
    ],
)
def test_can_transition_to(start, target, allowed):
    assert Flag(status=start).can_transition_to(target) is allowed


def test_every_status_has_its_transitions():
    assert set(TRANSITIONS) == set(FlagStatus.values)


def test_start_review_then_dismiss_with_reason(flag, clinician, lead):
    reviewed = flag_start_review(flag=flag, by=clinician)
    assert (reviewed.status, reviewed.reviewed_by) == (FlagStatus.IN_REVIEW, clinician)
    assert reviewed.reviewed_at is not None
    dismissed = flag_dismiss(flag=flag, by=lead, reason="  Swelling expected after BMAC; settled by phone call  ")
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by, flag.dismissed_reason) == (
        FlagStatus.DISMISSED,
        lead,
        "Swelling expected after BMAC; settled by phone call",
    )
    assert dismissed.pk == flag.pk


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_dismissal_needs_a_reason(flag, clinician, reason):
    with pytest.raises(ValidationError) as caught:
        flag_dismiss(flag=flag, by=clinician, reason=reason)
    assert "reason" in caught.value.message_dict
    flag.refresh_from_db()
    assert flag.status == FlagStatus.OPEN


def test_final_decisions_cannot_be_changed(flag, clinician):
    flag_dismiss(flag=flag, by=clinician, reason="Not related to the injection")
    with pytest.raises(ValidationError, match="cannot become in review"):
        flag_start_review(flag=flag, by=clinician)
    with pytest.raises(ValidationError, match="cannot become dismissed"):
        flag_dismiss(flag=flag, by=clinician, reason="again")
    flag.refresh_from_db()
    assert flag.dismissed_reason == "Not related to the injection"


def test_review_cannot_start_twice(flag, clinician, lead):
    flag_start_review(flag=flag, by=clinician)
    with pytest.raises(ValidationError):
        flag_start_review(flag=flag, by=lead)
    flag.refresh_from_db()
    assert flag.reviewed_by == clinician


def test_database_refuses_a_dismissal_without_reason(flag):
    Flag.objects.filter(pk=flag.pk).update(reviewed_at=flag.raised_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(status=FlagStatus.DISMISSED, dismissed_reason="")


def test_database_refuses_a_review_without_when(flag):
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(status=FlagStatus.IN_REVIEW)


def test_database_refuses_unknown_rule_and_status(flag):
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(rule="made_up")
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(status="closed")


def test_history_keeps_every_change_with_who_and_why(flag, clinician, lead):
    flag_start_review(flag=flag, by=clinician)
    flag_dismiss(flag=flag, by=lead, reason="Resolved without treatment")
    records = list(flag.history.order_by("history_date", "history_id"))
    assert [r.status for r in records] == [FlagStatus.OPEN, FlagStatus.IN_REVIEW, FlagStatus.DISMISSED]
    assert [r.history_user for r in records] == [None, clinician, lead]
    assert [r.history_change_reason for r in records] == [
        "Raised by rule safety_swelling",
        "Review started",
        "Dismissed: Resolved without treatment",
    ]

"""Emails to clinic staff: urgent flags at once (no clinical detail), locked links, the daily digest; and the
hand-off to the safety rules after each submission."""

import datetime as dt
import re

import pytest
from django.core import mail

from notifications import services, tasks
from notifications.models import MessageKind, MessageStatus, OutboundMessage
from outcomes.models import QuestionnaireLink, Submission, Timepoint
from outcomes.services import link_check_year_of_birth, link_create
from registry.choices import Role
from safety import tasks as safety_tasks
from safety.choices import FlagRule
from safety.models import Evaluation, Flag
from safety.services import flag_raise
from tests.factories import PatientFactory, make_injection, staff
from tests.support.answers import answers_for, complete
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_month(clock, patient, clinician):
    injection = make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))  # 1-month window open now
    return injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)


@pytest.fixture
def submission(one_month, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return complete(one_month)


def test_submission_queues_the_flag_rules_on_commit(one_month, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(safety_tasks.evaluate_submission, "delay", lambda submission_id: queued.append(submission_id))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = complete(one_month)
    assert queued == [submission.pk]
    assert len(callbacks) >= 2  # outcomes' signal, then our enqueue


def test_evaluate_submission_task_runs_the_rules_and_is_idempotent(submission):
    safety_tasks.evaluate_submission.run(submission.pk)
    safety_tasks.evaluate_submission.run(submission.pk)
    evaluation = Evaluation.objects.get(submission=submission)
    assert evaluation.evaluated_at is not None
    assert evaluation.error == ""
    assert evaluation.attempts == 2


def test_a_failing_rule_check_is_recorded_retried_and_never_loses_the_submission(submission, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("rules exploded")

    monkeypatch.setattr("safety.rules.evaluate", broken)
    with pytest.raises(RuntimeError):
        safety_tasks.evaluate_submission.run(submission.pk)
    assert Submission.objects.filter(pk=submission.pk).exists()
    evaluation = Evaluation.objects.get(submission=submission)
    assert evaluation.evaluated_at is None
    assert "rules exploded" in evaluation.error
    assert safety_tasks.evaluate_submission.autoretry_for == (Exception,)


def test_safety_net_requeues_unevaluated_submissions(submission, clock, monkeypatch):
    queued = []
    monkeypatch.setattr(safety_tasks.evaluate_submission, "delay", lambda submission_id: queued.append(submission_id))
    safety_tasks.evaluate_pending.run()
    assert queued == []  # still the on-commit task's job
    clock.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    safety_tasks.evaluate_pending.run()
    assert queued == [submission.pk]


def test_urgent_flag_emails_every_clinician_at_once_without_clinical_detail(
    submission, clinic, clinician, lead, auditor, outsider, django_capture_on_commit_callbacks, monkeypatch
):
    staff(clinic, Role.CLINICIAN, username="no_email", email="")
    queued = []
    monkeypatch.setattr(tasks.send_batch, "apply_async", lambda args, **kw: queued.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        flag, _ = flag_raise(
            submission=submission, rule=FlagRule.SAFETY_HOSPITAL_ADMISSION, urgent=True, values={"fired": ["x"]}
        )
    rows = OutboundMessage.objects.filter(kind=MessageKind.URGENT_FLAG)
    assert {r.recipient_user for r in rows} == {clinician, lead}  # not the auditor, nor another clinic
    assert sorted(queued[0]) == sorted(rows.values_list("id", flat=True))
    # At night too: urgent emails do not wait for sending hours.
    assert all(r.scheduled_for <= dt.datetime.now(dt.UTC) for r in rows)

    services.messages_send(queued[0])
    assert sorted(m.to[0] for m in mail.outbox) == sorted([clinician.email, lead.email])
    email = mail.outbox[0]
    assert "urgent safety report needs review" in email.body.lower()
    assert re.search(rf"/flags/{flag.pk}/", email.body)
    body = email.body.replace(clinic.name, "").lower()
    assert "hospital" not in body
    assert "admission" not in body
    assert submission.follow_up.patient.registry_number not in body

    # Idempotent: a second notice for the same flag writes nothing new.
    assert services.urgent_flag_notify(flag) == []
    assert rows.count() == 2


def test_non_urgent_flags_wait_for_the_digest(submission, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        flag_raise(submission=submission, rule=FlagRule.VAS_WORSE, urgent=False, values={})
    assert not OutboundMessage.objects.filter(kind=MessageKind.URGENT_FLAG).exists()


def test_safety_net_notifies_urgent_flags_whose_emails_were_never_written(submission, clinician):
    flag = Flag.objects.create(
        clinic_id=submission.clinic_id,
        patient_id=submission.follow_up.patient_id,
        follow_up=submission.follow_up,
        submission=submission,
        rule=FlagRule.SAFETY_INFECTION_SIGNS,
        urgent=True,
    )
    assert services.urgent_flags_catch_up() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.URGENT_FLAG, context__flag_id=flag.pk).count() == 1
    assert services.urgent_flags_catch_up() == 0


def test_urgent_email_not_sent_to_someone_who_left_the_clinic(
    submission, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        flag_raise(submission=submission, rule=FlagRule.SAFETY_INFECTION_SIGNS, urgent=True, values={})
    clinician.memberships.all().delete()
    urgent = OutboundMessage.objects.filter(kind=MessageKind.URGENT_FLAG)
    result = services.messages_send(list(urgent.values_list("id", flat=True)))
    assert result.cancelled == 1
    assert urgent.get().cancelled_reason == "Recipient is no longer clinical staff of the clinic"


def test_locked_link_tells_the_clinic_once(one_month, clinic, clinician, django_capture_on_commit_callbacks):
    clinic.contact_email = "outcomes@north.example"
    clinic.save()
    link_create(follow_up=one_month)
    link = QuestionnaireLink.objects.get(follow_up=one_month)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(6):
            link_check_year_of_birth(link=link, year="1900")
    row = OutboundMessage.objects.get(kind=MessageKind.LINK_LOCKED)
    assert row.dedupe_key == f"link_locked:{link.pk}"
    services.messages_send([row.pk])
    (email,) = mail.outbox
    assert email.to == ["outcomes@north.example"]
    assert one_month.patient.registry_number in email.body


def test_daily_digest_once_per_clinic_per_day_in_the_morning(clock, clinic, clinician, lead, other_clinic, outsider):
    patient = PatientFactory(clinic=clinic)
    make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2))  # baseline open to 5 March
    clock.move_to(at(2026, 3, 6, 0, 5))
    sweep()  # the baseline closes unanswered
    clock.move_to(at(2026, 3, 6, 7, 30))
    assert services.digests_queue() == 0  # before the digest hour
    clock.move_to(at(2026, 3, 6, 8, 5))
    assert services.digests_queue() == 1
    assert services.digests_queue() == 0  # the next hourly run: already done today
    digest = OutboundMessage.objects.get(kind=MessageKind.MISSED_DIGEST, clinic=clinic)
    assert digest.dedupe_key == f"digest:{clinic.pk}:2026-03-06"
    assert digest.context["missed"] == 1
    quiet = OutboundMessage.objects.get(kind=MessageKind.MISSED_DIGEST, clinic=other_clinic)
    assert quiet.status == MessageStatus.CANCELLED
    assert quiet.cancelled_reason == "Nothing to report"

    clock.move_to(at(2026, 3, 6, 9, 0))
    sweep()
    (email,) = [m for m in mail.outbox if "summary" in m.subject]
    assert sorted(email.to) == sorted([clinician.email, lead.email])
    assert "closed unanswered in the last day: 1" in email.body
    assert patient.registry_number not in email.body
    assert patient.full_name not in email.body


def test_answers_fixture_is_complete(one_month):
    assert answers_for(one_month)

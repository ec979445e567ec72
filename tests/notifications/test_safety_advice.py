"""A patient whose answers need care today also gets the advice by email: contact the clinic today or go to A&E,
with the clinic's phone number. Through the outbox: written with the answers, once per submission, sent at any
hour (it cannot wait for the sending hours), re-checked when sent, never after the patient withdrew, stopped
emails or lost their address, and not once it is too late to be useful. The clinic is alerted as before."""

import datetime as dt

import pytest
from django.core import mail

from notifications.models import MessageKind, MessageStatus, OutboundMessage
from notifications.services import messages_send
from notifications.services.advice import ADVICE_VALID_FOR, safety_advice_write
from outcomes.models import SubmissionSource, Timepoint
from outcomes.services import questionnaire_submit
from registry.services import patient_withdraw_consent
from tests.factories import questionnaire_data
from tests.support.clock import at

LATE_EVENING = at(2026, 3, 30, 22, 30)  # outside the 09:00-19:00 sending hours


@pytest.fixture
def month(journey, clinic):
    clinic.phone = "0113 496 0123"
    clinic.save()
    trip = journey()
    trip.baseline()
    return trip.follow_up(Timepoint.ONE_MONTH)


def submit(follow_up, when=LATE_EVENING, source=SubmissionSource.PATIENT_LINK, **answers):
    import time_machine

    with time_machine.travel(when, tick=False):
        return questionnaire_submit(follow_up=follow_up, data=questionnaire_data(follow_up, **answers), source=source)


def advice_rows():
    return OutboundMessage.objects.filter(kind=MessageKind.SAFETY_ADVICE)


def send_all(when):
    import time_machine

    with time_machine.travel(when, tick=False):
        return messages_send(list(advice_rows().values_list("id", flat=True)))


def test_an_urgent_answer_emails_the_patient_the_advice_at_once_even_late_at_night(
    month, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        submission = submit(month, **{"SAFETY.fever": "yes"})
    (row,) = advice_rows()
    assert (row.patient_id, row.follow_up_id, row.status) == (month.patient_id, month.pk, MessageStatus.PENDING)
    assert row.scheduled_for == LATE_EVENING
    assert row.dedupe_key == f"safety-advice:{submission.pk}"
    assert queued, "a send task is queued when the answers commit"

    result = send_all(LATE_EVENING + dt.timedelta(minutes=1))
    assert result.sent == 1
    (email,) = mail.outbox
    assert email.to == [month.patient.email]
    assert "today" in email.subject
    text = email.body
    html = email.alternatives[0][0]
    for body in (text, html):
        assert "contact the clinic today" in body
        assert "emergency department" in body
        assert "0113 496 0123" in body
        assert "fever" not in body.lower()  # no clinical detail in an email, as in every patient email
        assert "/q/" not in body  # no questionnaire link
    assert 'href="tel:01134960123"' in html


def test_it_is_written_once_per_submission(month):
    submission = submit(month, **{"SAFETY.redness_heat": "yes", "SAFETY.hospital_admission": "yes"})
    safety_advice_write(submission)
    safety_advice_write(submission)
    assert advice_rows().count() == 1
    send_all(LATE_EVENING)
    send_all(LATE_EVENING + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("answer", [None, "SAFETY.swelling", "SAFETY.care_gp", "SAFETY.care_ed"])
def test_no_advice_email_without_an_urgent_answer(month, answer):
    submit(month, **({answer: "yes"} if answer else {}))
    assert not advice_rows().exists()
    assert not mail.outbox


def test_answers_entered_by_staff_bring_no_email(month, clinician):
    """Paper or phone answers typed in by the clinic: the clinic already has them in front of it, and its urgent
    flag is raised as for any submission; an email days later saying "today" would mislead."""
    import time_machine

    with time_machine.travel(LATE_EVENING, tick=False):
        questionnaire_submit(
            follow_up=month,
            data=questionnaire_data(month, **{"SAFETY.fever": "yes"}),
            source=SubmissionSource.STAFF_ENTERED,
            entered_by=clinician,
        )
    assert not advice_rows().exists()


def test_the_clinic_is_still_alerted_at_once(month, clinician, settings, django_capture_on_commit_callbacks):
    from safety.tasks import evaluate_submission

    submission = submit(month, **{"SAFETY.fever": "yes"})
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_submission(submission.pk)
    assert OutboundMessage.objects.filter(kind=MessageKind.URGENT_FLAG, recipient_user=clinician).exists()
    assert advice_rows().count() == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unsubscribed", "Patient unsubscribed from email"),
        ("withdrew", "Consent withdrawn"),
        ("no_address", "No email address on record"),
        ("no_email_consent", "No consent to email contact"),
    ],
)
def test_the_patients_email_rules_are_checked_when_it_is_sent(month, clinician, change, reason):
    """Unsubscribing stops this email too: the unsubscribe page promises "no more emails", the patient has the
    same advice on the page they are looking at, and the clinic is alerted at once by its urgent flag."""
    submit(month, **{"SAFETY.fever": "yes"})
    patient = month.patient
    if change == "unsubscribed":
        patient.email_opted_out_at = LATE_EVENING
        patient.save()
    elif change == "withdrew":
        patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved away")
    elif change == "no_address":
        patient.email = ""
        patient.save()
    else:
        patient.consent_email_contact = False
        patient.save()
    send_all(LATE_EVENING + dt.timedelta(minutes=1))
    assert not mail.outbox
    (row,) = advice_rows()
    assert (row.status, row.cancelled_reason) == (MessageStatus.CANCELLED, reason)


def test_advice_that_could_not_be_delivered_in_time_is_not_sent_late(month, failing_mail):
    submit(month, **{"SAFETY.fever": "yes"})
    result = send_all(LATE_EVENING)
    assert result.retrying == 1
    (row,) = advice_rows()
    # Retried after the usual backoff, not held back to the next morning's sending hours.
    assert row.scheduled_for < LATE_EVENING + dt.timedelta(minutes=5)
    failing_mail.error = None
    send_all(LATE_EVENING + ADVICE_VALID_FOR + dt.timedelta(minutes=1))
    row.refresh_from_db()
    assert row.status == MessageStatus.CANCELLED
    assert "too late" in row.cancelled_reason
    assert not mail.outbox


def test_unable_to_bear_weight_alone_brings_the_advice_email(month):
    """Issue 15: inability to bear weight is urgent without fever, for the patient as for the clinic."""
    submit(month, **{"SAFETY.unable_to_bear_weight": "yes"})
    (row,) = advice_rows()
    assert row.follow_up_id == month.pk
    assert send_all(LATE_EVENING).sent == 1
    (email,) = mail.outbox
    assert "contact the clinic today" in email.body
    assert "weight" not in email.body.lower()  # no clinical detail in an email

"""Patient emails in the patient's language (issue 17): subject, text and HTML for a Welsh patient are in Welsh
(dates with Welsh month names), an English patient's in English, and staff emails stay English whatever language
was active when they were built."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import translation

from notifications import emails
from notifications.models import MessageKind, OutboundMessage
from notifications.services import messages_send
from outcomes.models import Timepoint
from outcomes.services import questionnaire_submit
from tests.factories import PatientFactory, make_injection, questionnaire_data
from tests.support.clock import at
from tests.support.outbox import sweep

pytestmark = pytest.mark.django_db


def _invitation_for(patient, clinician):
    make_injection(patient, clinician, knee="left")
    report = sweep()
    assert report.send.sent == 1
    (email,) = mail.outbox
    return email


def test_a_welsh_patient_gets_the_invitation_in_welsh(clock, clinic, clinician):
    patient = PatientFactory(clinic=clinic, email="megan@example.org", preferred_language="cy")
    email = _invitation_for(patient, clinician)
    html = email.alternatives[0][0]
    assert email.subject == "North Knee Clinic: holiadur byr am eich pen-glin chwith"
    for body in (email.body, html):
        assert "Helo," in body
        assert "Mae North Knee Clinic yn gofyn i chi lenwi holiadur byr" in body
        assert "eich pen-glin chwith, a gafodd bigiad ar 2 Mawrth 2026" in body  # Welsh month name
        assert "Atal yr e-byst hyn" in body
        assert "Hello," not in body
        assert "is asking you" not in body
    assert '<html lang="cy" dir="ltr">' in html


def test_an_english_patient_gets_it_in_english(clock, clinic, clinician):
    patient = PatientFactory(clinic=clinic, email="grace@example.org")
    email = _invitation_for(patient, clinician)
    assert email.subject == "North Knee Clinic: a short questionnaire about your left knee"
    for body in (email.body, email.alternatives[0][0]):
        assert "Hello," in body
        assert "your left knee, injected on 2 March 2026" in body
        assert "Helo," not in body


def test_a_clinic_whose_default_is_welsh_writes_in_welsh_to_its_new_patients(clock, clinic, clinician):
    clinic.default_language = "cy"
    clinic.save()
    patient = PatientFactory(clinic=clinic, email="dewi@example.org")  # no language of their own
    email = _invitation_for(patient, clinician)
    assert email.subject.startswith("North Knee Clinic: holiadur byr")


def test_the_final_reminder_subject_and_closing_date_are_welsh(clock, clinic, clinician):
    patient = PatientFactory(clinic=clinic, email="megan@example.org", preferred_language="cy")
    make_injection(patient, clinician, knee="left")
    row = OutboundMessage.objects.filter(patient=patient, kind=MessageKind.INVITATION).get()
    row.kind = MessageKind.FINAL_REMINDER
    email = emails.build_questionnaires(
        [row], to=[patient.email], questionnaire_tokens=["t" * 43], unsubscribe_token="u" * 43, message_id="<m@x>"
    )
    assert email.subject == (
        "Nodyn atgoffa olaf gan North Knee Clinic: mae eich holiadur am eich pen-glin chwith yn cau cyn bo hir"
    )
    assert "Dyma'r nodyn atgoffa olaf: mae eich holiadur ar gyfer North Knee Clinic yn cau ar" in email.body
    assert translation.get_language() == "en-gb"  # the patient's language was switched back after building


def test_staff_emails_stay_english_even_when_welsh_is_active(clinic):
    message = OutboundMessage(
        kind=MessageKind.MISSED_DIGEST,
        clinic=clinic,
        dedupe_key="digest",
        scheduled_for=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        context={},
    )
    with translation.override("cy"):
        email = emails.build(message, to=["lead@clinic.example"])
    assert email.subject == "North Knee Clinic: daily registry summary"


@pytest.fixture
def welsh_month(journey, clinic):
    clinic.phone = "0113 496 0123"
    clinic.save()
    trip = journey(patient=PatientFactory(clinic=clinic, email="megan@example.org", preferred_language="cy"))
    trip.baseline()
    return trip.follow_up(Timepoint.ONE_MONTH)


def test_the_urgent_advice_email_is_in_welsh_for_a_welsh_patient(welsh_month):
    when = at(2026, 3, 30, 12)
    with time_machine.travel(when, tick=False):
        questionnaire_submit(follow_up=welsh_month, data=questionnaire_data(welsh_month, **{"SAFETY.fever": "yes"}))
    rows = list(OutboundMessage.objects.filter(kind=MessageKind.SAFETY_ADVICE).values_list("id", flat=True))
    with time_machine.travel(when + dt.timedelta(minutes=1), tick=False):
        assert messages_send(rows).sent == 1
    (email,) = mail.outbox
    assert email.subject == "Cysylltwch â North Knee Clinic heddiw, os gwelwch yn dda"
    for body in (email.body, email.alternatives[0][0]):
        assert "Cysylltwch â'r clinig heddiw" in body.replace("&#x27;", "'")
        assert "0113 496 0123" in body
        assert "30 Mawrth 2026" in body
        assert "contact the clinic today" not in body

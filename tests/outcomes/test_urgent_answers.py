"""A patient who reports danger (a hot or red knee, a fever, a hospital admission) is told, on the thanks page,
to contact the clinic today or go to an emergency department, with the clinic's phone number. Everyone else
sees the ordinary thanks. Which answers are urgent is the safety check's own definition
(outcomes/instruments/safety-1.json, "urgent": true), which the clinic's urgent flags follow too."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import signing

from outcomes import signals, views_questionnaire
from outcomes.instruments import get_instrument
from outcomes.models import Submission, SubmissionSource, Timepoint
from outcomes.models.questionnaire import LinkChannel
from outcomes.questionnaire import urgent_answers
from outcomes.services import link_create, questionnaire_submit
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up, q_url

ADVICE = "contact the clinic today"
EMERGENCY = "emergency department"


@pytest.fixture
def month(recorded):
    """The one-month questionnaire (the first with the safety check), on a day it is open."""
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        yield one_month


@pytest.fixture
def month_token(month):
    return link_create(follow_up=month)


@pytest.fixture
def phone(clinic):
    clinic.phone = "020 7946 0018"
    clinic.save()
    return clinic.phone


def test_the_safety_check_says_which_answers_are_urgent():
    safety = get_instrument("SAFETY")
    assert {item.code for item in safety.items if item.urgent} == {
        "redness_heat",
        "fever",
        "unable_to_bear_weight",
        "hospital_admission",
    }
    # Worrying, but not "today": swelling alone, a GP visit, an A&E visit already made.
    assert not safety.item("swelling").urgent
    assert not safety.item("care_ed").urgent


def test_urgent_answers_are_the_yes_answers_to_urgent_items():
    versions = {"SAFETY": "1"}
    yes = {"value": True}
    no = {"value": False}
    assert urgent_answers({"SAFETY": {"fever": yes, "swelling": yes, "redness_heat": no}}, versions) == (
        "SAFETY.fever",
    )
    assert urgent_answers({"SAFETY": {"swelling": yes, "care_ed": yes}}, versions) == ()
    assert urgent_answers({"SAFETY": {"hospital_admission": yes, "redness_heat": yes}}, versions) == (
        "SAFETY.redness_heat",
        "SAFETY.hospital_admission",
    )
    assert urgent_answers({}, {}) == ()


@pytest.mark.parametrize("item", ["redness_heat", "fever", "unable_to_bear_weight", "hospital_admission"])
def test_an_urgent_answer_brings_the_advice_with_the_clinics_phone(client, month_token, month, phone, item):
    response = client.post(q_url(month_token), answers_for(month, **{f"SAFETY.{item}": "yes"}))
    assert response.status_code == 302
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    html = thanks.content.decode()
    assert ADVICE in html
    assert EMERGENCY in html
    assert phone in html
    assert 'href="tel:02079460018"' in html  # one tap on a phone
    assert "There is nothing more to do" not in html
    assert Submission.objects.get(follow_up=month).urgent_answers() == (f"SAFETY.{item}",)


@pytest.mark.parametrize("item", [None, "swelling", "care_gp", "care_ed"])
def test_other_answers_get_the_ordinary_thanks(client, month_token, month, phone, item):
    overrides = {f"SAFETY.{item}": "yes"} if item else {}
    response = client.post(q_url(month_token), answers_for(month, **overrides))
    html = client.get(response["Location"]).content.decode()
    assert "There is nothing more to do" in html
    assert ADVICE not in html
    assert phone not in html


def test_without_a_phone_number_the_advice_still_names_the_clinic(client, month_token, month):
    assert month.clinic.phone == ""
    response = client.post(q_url(month_token), answers_for(month, **{"SAFETY.fever": "yes"}))
    html = client.get(response["Location"]).content.decode()
    assert ADVICE in html
    assert month.clinic.name in html
    assert "tel:" not in html


def test_on_the_clinic_tablet_the_patient_tells_the_team_before_leaving(client, month, phone):
    tablet = link_create(follow_up=month, channel=LinkChannel.CLINIC)
    response = client.post(q_url(tablet), answers_for(month, **{"SAFETY.fever": "yes"}))
    html = client.get(response["Location"]).content.decode()
    assert "tell the clinic team about your answers before you leave" in html
    assert ADVICE in html


def test_the_advice_travels_signed_and_writes_no_session(client, month_token, month, phone):
    response = client.post(q_url(month_token), answers_for(month, **{"SAFETY.fever": "yes"}))
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()
    value = parse_qs(urlsplit(response["Location"]).query)["s"][0]
    assert signing.loads(value, salt=views_questionnaire.THANKS_SALT)["u"] is True
    # An edited address shows the plain thanks (never an error), and cannot name another clinic.
    html = client.get("/q/thanks/", {"s": value[:-2] + "xx"}).content.decode()
    assert "Thank you, your answers have been sent" in html
    assert phone not in html


def test_urgent_answers_are_announced_inside_the_submissions_transaction(month):
    """Notifications writes the patient's advice email in the same commit as the answers (outbox)."""
    heard = []

    def receiver(sender, submission, **kwargs):
        from django.db import connection

        heard.append((submission.urgent_answers(), connection.in_atomic_block))

    signals.urgent_answers_given.connect(receiver)
    try:
        questionnaire_submit(follow_up=month, data=answers_for(month, **{"SAFETY.fever": "yes"}))
    finally:
        signals.urgent_answers_given.disconnect(receiver)
    assert heard == [(("SAFETY.fever",), True)]


def test_no_announcement_without_an_urgent_answer(month):
    heard = []

    def receiver(sender, submission, **kwargs):
        heard.append(submission.pk)

    signals.urgent_answers_given.connect(receiver)
    try:
        questionnaire_submit(
            follow_up=month, data=answers_for(month, **{"SAFETY.swelling": "yes"}), source=SubmissionSource.PATIENT_LINK
        )
    finally:
        signals.urgent_answers_given.disconnect(receiver)
    assert heard == []

"""The questionnaire page and its thanks page say which knee and which injection they are about: a patient treated
in both knees has two questionnaires that must never look alike. A baseline says its questions are about the days
before the injection (it may be answered a few days after it)."""

import datetime as dt

import pytest
from django.core import signing

from outcomes.models import Timepoint
from outcomes.services import follow_ups_open_due, link_create
from outcomes.views_questionnaire import BASELINE_NOTE, THANKS_SALT
from tests.factories import make_injection
from tests.safety.ae_support import PRP_PROTOCOL
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up, q_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def right_knee(recorded, patient, clinician):
    """The same patient's right knee, injected the same day (PRP)."""
    injection = make_injection(patient, clinician, knee="right", product="prp", protocol=dict(PRP_PROTOCOL))
    return follow_up(injection)


def test_the_page_heading_names_the_knee_and_the_injection_day(client, token, baseline, right_knee):
    html = client.get(q_url(token)).content.decode()
    assert "<h1>Your left knee questionnaire</h1>" in html
    assert "About your left knee, injected on 2 March 2026." in html
    assert "<title>Your left knee questionnaire</title>" in html
    assert "right knee" not in html

    other = client.get(q_url(link_create(follow_up=right_knee))).content.decode()
    assert "<h1>Your right knee questionnaire</h1>" in other
    assert "About your right knee, injected on 2 March 2026." in other


def test_the_baseline_asks_about_the_days_before_the_injection(client, token):
    html = client.get(q_url(token)).content.decode()
    assert "Before your injection" in html
    assert str(BASELINE_NOTE) in html


def test_later_questionnaires_do_not_carry_the_baseline_note(client, recorded):
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(dt.date(2026, 4, 1)):
        follow_ups_open_due()
        html = client.get(q_url(link_create(follow_up=one_month))).content.decode()
    assert "About one month after your injection" in html
    assert str(BASELINE_NOTE) not in html


def test_the_thanks_page_names_the_knee_and_the_injection_day(client, token, baseline):
    response = client.post(q_url(token), answers_for(baseline))
    html = client.get(response["Location"]).content.decode()
    assert "Your answers about your left knee, injected on 2 March 2026." in html


def test_a_forged_thanks_value_names_no_knee(client, baseline):
    value = signing.dumps({"c": baseline.clinic_id, "f": baseline.pk}, salt="another-purpose")
    html = client.get("/q/thanks/", {"s": value}).content.decode()
    assert "knee, injected" not in html
    genuine = signing.dumps({"c": baseline.clinic_id, "f": baseline.pk}, salt=THANKS_SALT)
    assert "your left knee, injected on 2 March 2026" in client.get("/q/thanks/", {"s": genuine}).content.decode()

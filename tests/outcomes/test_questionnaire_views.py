"""The patient's questionnaire page: what it shows, how it is built for a phone and a screen reader, autosave,
and that it says nothing about who the patient is."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import signing

from outcomes import views_questionnaire
from outcomes.models import QuestionnaireDraft, QuestionnaireLink, Timepoint
from outcomes.models.questionnaire import LinkChannel
from outcomes.services import link_create
from tests.factories import make_injection
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up, q_url


def test_baseline_page_has_one_section_per_instrument_with_progress(client, token):
    response = client.get(q_url(token))
    assert response.status_code == 200
    html = response.content.decode()
    # Baseline: KOOS, OKS, VAS pain, patient global. No safety check before the injection.
    for number in range(1, 5):
        assert f"Section {number} of 4" in html
    assert "Section 5 of" not in html
    assert 'name="SAFETY.' not in html
    for name in ("KOOS.P1", "KOOS.S4", "KOOS.Q4", "OKS.Q1", "OKS.Q12", "VAS.pain", "PGA.global"):
        assert f'name="{name}"' in html, name


def test_items_are_radio_fieldsets_with_legends_and_scores_as_values(client, token):
    html = client.get(q_url(token)).content.decode()
    fieldset = re.search(r'<fieldset class="q-item q-choice"[^>]*id="q-KOOS-S4".*?</fieldset>', html, re.S).group(0)
    assert "<legend>" in fieldset
    # S4 lists its options the other way round (reference 1.2): "Always" carries score 0.
    assert re.search(r'value="0"[^>]*>\s*<span>Always</span>', fieldset)
    assert re.search(r'value="4"[^>]*>\s*<span>Never</span>', fieldset)


def test_vas_is_a_slider_with_a_number_fallback(client, token):
    html = client.get(q_url(token)).content.decode()
    assert re.search(r'<input type="range" id="q-VAS-pain-range" name="VAS.pain" min="0" max="100"', html)
    assert re.search(r'<input type="number" id="q-VAS-pain-number" name="VAS.pain"[^>]*min="0"', html, re.S)
    # The number box comes last, so an untouched slider (which always has a value) never answers for the patient.
    assert html.index('id="q-VAS-pain-range"') < html.index('id="q-VAS-pain-number"')


def test_required_items_are_marked_and_demo_wording_is_noted(client, token):
    html = client.get(q_url(token)).content.decode()
    vas = re.search(r'id="q-VAS-pain".*?</legend>', html, re.S).group(0)
    assert '<span class="req">required</span>' in vas
    koos = re.search(r'id="q-KOOS-P1".*?</legend>', html, re.S).group(0)
    assert "required" not in koos  # KOOS has a missing-item rule instead
    assert "Demo wording" in html


def test_follow_up_asks_the_safety_check_and_bmac_harvest_site(client, recorded):
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        html = client.get(q_url(link_create(follow_up=one_month))).content.decode()
    assert "Section 6 of 6" in html  # KOOS, OKS, VAS, PGA, the safety check, further treatment
    for name in (
        "SAFETY.swelling",
        "SAFETY.fever",
        "SAFETY.care_ed",
        "SAFETY.harvest_site_problem",
        "SAFETY.other",
        "FURTHER.surgery",
        "FURTHER.surgery_month",
    ):
        assert f'name="{name}"' in html, name


def test_harvest_site_question_only_for_bmac(client, clock, patient, clinician):
    injection = make_injection(patient, clinician, product="saline", protocol={})
    one_month = follow_up(injection, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        html = client.get(q_url(link_create(follow_up=one_month))).content.decode()
    assert 'name="SAFETY.fever"' in html
    assert "SAFETY.harvest_site_problem" not in html


def test_page_shows_the_clinic_but_nothing_about_the_patient(client, token, patient):
    html = client.get(q_url(token)).content.decode()
    assert patient.clinic.name in html
    for secret in (patient.full_name, patient.email, patient.registry_number, str(patient.year_of_birth)):
        assert secret not in html, secret


def test_page_has_no_staff_navigation_even_when_signed_in(client, token, clinician):
    client.force_login(clinician)
    html = client.get(q_url(token)).content.decode()
    assert "Sign out" not in html
    assert "/patients" not in html


def test_autosave_keeps_answers_and_the_page_prefills_them(client, token, baseline):
    response = client.post(q_url(token, "draft/"), {"KOOS.P1": "3", "OKS.Q2": "1", "VAS.pain": "62", "junk": "x"})
    assert response.status_code == 200
    assert response.json() == {"saved": True}
    draft = QuestionnaireDraft.objects.get(follow_up=baseline)
    assert draft.answers == {"KOOS.P1": "3", "OKS.Q2": "1", "VAS.pain": "62"}
    assert QuestionnaireLink.objects.get(follow_up=baseline).started_at is not None

    html = client.get(q_url(token)).content.decode()
    assert re.search(r'name="KOOS.P1" value="3" checked', html)
    assert re.search(r'name="OKS.Q2" value="1" checked', html)
    assert re.search(r'id="q-VAS-pain-number" name="VAS.pain"[^>]*value="62"', html, re.S)
    assert not re.search(r'name="KOOS.P2" value="\d" checked', html)


def test_autosave_refuses_a_used_link(client, token, baseline):
    client.post(q_url(token), answers_for(baseline))
    response = client.post(q_url(token, "draft/"), {"KOOS.P1": "3"})
    assert response.status_code == 409
    assert not QuestionnaireDraft.objects.exists()


def test_validation_errors_sit_next_to_their_item_and_keep_the_answers(client, token, baseline):
    data = answers_for(baseline, **{"VAS.pain": None, "KOOS.P1": "7", "OKS.Q3": "2"})
    response = client.post(q_url(token), data)
    assert response.status_code == 400
    html = response.content.decode()
    vas = re.search(r'<fieldset class="q-item q-slider has-error"[^>]*id="q-VAS-pain".*?</fieldset>', html, re.S)
    assert vas, "the VAS item is marked as in error"
    assert 'aria-describedby="q-VAS-pain-anchors q-VAS-pain-error"' in vas.group(0)
    assert 'id="q-VAS-pain-error">Please answer this question.' in vas.group(0)
    koos = re.search(r'id="q-KOOS-P1".*?</fieldset>', html, re.S).group(0)
    assert 'aria-describedby="q-KOOS-P1-error"' in koos
    assert "Choose one of the answers." in koos
    # The error summary links to each item; the patient's other answers are still there.
    assert 'href="#q-VAS-pain"' in html
    assert re.search(r'name="OKS.Q3" value="2" checked', html)


def test_thanks_page_carries_no_token_and_clears_local_drafts(client, token, baseline):
    response = client.post(q_url(token), answers_for(baseline))
    assert response.status_code == 302
    assert response["Location"].startswith("/q/thanks/?s=")
    assert token not in response["Location"]
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    html = thanks.content.decode()
    assert token not in html
    assert "data-clear-drafts" in html
    assert baseline.clinic.name in html
    assert "hand the tablet back" not in html
    assert thanks["Referrer-Policy"] == "no-referrer"


def test_thanks_after_a_clinic_tablet_link_asks_for_the_tablet_back(client, baseline):
    tablet_token = link_create(follow_up=baseline, channel=LinkChannel.CLINIC)
    response = client.post(q_url(tablet_token), answers_for(baseline))
    assert response.status_code == 302
    assert "hand the tablet back" in client.get(response["Location"]).content.decode()


def test_a_submission_writes_no_session(client, token, baseline):
    """What the thanks page shows travels signed in its address: a patient's submission stores nothing else."""
    response = client.post(q_url(token), answers_for(baseline))
    assert response.status_code == 302
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()


@pytest.mark.parametrize("value", ["", "tampered", "signed for another purpose"])
def test_thanks_page_with_a_missing_or_forged_value_still_thanks_without_naming_anyone(client, baseline, value):
    if value == "signed for another purpose":
        value = signing.dumps({"c": baseline.clinic_id, "t": True}, salt="another-purpose")
    response = client.get("/q/thanks/", {"s": value})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you, your answers have been sent" in html
    assert baseline.clinic.name not in html
    assert "hand the tablet back" not in html


def test_thanks_value_expires(client, baseline, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False)
    value = signing.dumps({"c": baseline.clinic_id, "t": True}, salt=views_questionnaire.THANKS_SALT)
    assert baseline.clinic.name in client.get("/q/thanks/", {"s": value}).content.decode()
    time_machine.shift(dt.timedelta(seconds=views_questionnaire.THANKS_MAX_AGE + 1))
    html = client.get("/q/thanks/", {"s": value}).content.decode()
    assert baseline.clinic.name not in html
    assert "hand the tablet back" not in html


@pytest.mark.parametrize("path", ["", "draft/", "opened/", "check/"])
def test_unknown_methods_are_refused(client, token, path):
    response = client.put(q_url(token, path))
    assert response.status_code == 405

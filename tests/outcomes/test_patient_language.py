"""The questionnaire in the patient's language (issue 17): a Welsh patient's link opens in Welsh (the link's patient
decides, not the browser), the page's switch can change it, the answers score exactly as the same answers in
English, and the submission records the language and instrument versions. Right-to-left languages get dir="rtl"."""

import pytest
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape

from outcomes.instruments import all_instruments, get_instrument
from outcomes.models import Submission
from outcomes.services import link_create
from registry.i18n import patient_page_language
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for
from tests.support.journeys import follow_up, q_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def welsh_patient(clinic):
    return PatientFactory(clinic=clinic, preferred_language="cy")


def _open_baseline(patient, clinician):
    baseline = follow_up(make_injection(patient, clinician))
    return baseline, link_create(follow_up=baseline)


def test_a_welsh_patients_link_opens_in_welsh_whatever_the_browser_says(client, clock, welsh_patient, clinician):
    _, token = _open_baseline(welsh_patient, clinician)
    response = client.get(q_url(token), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    html = response.content.decode()
    assert response["Content-Language"] == "cy"
    assert '<html lang="cy" dir="ltr">' in html
    assert "<h1>Holiadur eich pen-glin chwith</h1>" in html
    assert "Am eich pen-glin chwith, a gafodd bigiad ar 2 Mawrth 2026." in html  # Welsh month name
    assert escape(get_instrument("KOOS", language="cy").item("P1").text) in html  # the Welsh wording file's
    assert "Anfon fy atebion" in html
    assert "Your left knee questionnaire" not in html
    assert 'href="?lang=en-gb"' in html  # the switch to English, named in English


def test_an_english_patients_link_stays_english_for_a_welsh_browser(client, clock, patient, clinician):
    _, token = _open_baseline(patient, clinician)
    html = client.get(q_url(token), HTTP_ACCEPT_LANGUAGE="cy").content.decode()
    assert '<html lang="en-gb" dir="ltr">' in html
    assert "<h1>Your left knee questionnaire</h1>" in html
    assert 'href="?lang=cy"' in html
    assert ">Cymraeg<" in html


def test_the_switch_changes_the_page_language(client, clock, welsh_patient, clinician):
    _, token = _open_baseline(welsh_patient, clinician)
    html = client.get(q_url(token) + "?lang=en-gb").content.decode()
    assert "<h1>Your left knee questionnaire</h1>" in html
    assert escape(get_instrument("KOOS", language="en-gb").item("P1").text) in html


def test_an_unknown_language_in_the_switch_is_ignored(rf, welsh_patient):
    assert patient_page_language(rf.get("/q/x/?lang=xx"), welsh_patient) == "cy"
    assert patient_page_language(rf.get("/q/x/?lang=CY"), None) == "cy"
    assert patient_page_language(rf.get("/q/x/", HTTP_ACCEPT_LANGUAGE="cy"), None) == "cy"
    assert patient_page_language(rf.get("/q/x/"), None) == "en-gb"


def test_welsh_answers_score_exactly_as_the_same_answers_in_english(client, clock, clinic, clinician, welsh_patient):
    english_patient = PatientFactory(clinic=clinic)
    submissions = {}
    for language, patient in (("cy", welsh_patient), ("en-gb", english_patient)):
        baseline, token = _open_baseline(patient, clinician)
        response = client.post(q_url(token), answers_for(baseline))
        assert response.status_code == 302, response.content.decode()[:500]
        submissions[language] = Submission.objects.get(follow_up=baseline)
        thanks = client.get(response["Location"]).content.decode()
        if language == "cy":
            assert "Diolch, mae eich atebion wedi'u hanfon" in thanks
            assert '<html lang="cy"' in thanks
        else:
            assert "Thank you, your answers have been sent" in thanks

    welsh, english = submissions["cy"], submissions["en-gb"]
    assert welsh.language == "cy"
    assert english.language == "en-gb"
    assert welsh.scores == english.scores
    assert welsh.koos_pain == english.koos_pain is not None
    assert welsh.oks_total == english.oks_total is not None
    assert welsh.instrument_versions == english.instrument_versions
    # The stored answers hold the same values; only the option labels shown differ by language.
    for code, items in english.answers.items():
        assert {k: v["value"] for k, v in welsh.answers[code].items()} == {k: v["value"] for k, v in items.items()}
    assert welsh.answers["KOOS"]["P1"]["option"] == get_instrument("KOOS", language="cy").item("P1").options[1].label


def test_a_welsh_error_message_names_the_question(client, clock, welsh_patient, clinician):
    baseline, token = _open_baseline(welsh_patient, clinician)
    response = client.post(q_url(token), answers_for(baseline, **{"KOOS.P1": "99"}))
    assert response.status_code == 400
    html = response.content.decode()
    assert escape("Dewiswch un o'r atebion.") in html
    assert "Choose one of the answers." not in html
    assert "Holiadur y pen-glin, cwestiwn" in html  # the error summary names the Welsh title


def test_every_instrument_has_its_welsh_demo_wording_marked_as_demo():
    for english in all_instruments():
        welsh = get_instrument(english.code, english.version, language="cy")
        assert welsh.wording == "demo", english.code
        assert welsh.title != english.title, english.code
        untranslated = [i.code for i, e in zip(welsh.items, english.items, strict=True) if i.text == e.text]
        assert untranslated == [], f"{english.code}: items still in English: {untranslated}"
        # Only words change: the same options, in the same order, with the same scores.
        assert [i.scores for i in welsh.items] == [i.scores for i in english.items]


def test_a_right_to_left_language_sets_dir_rtl_even_without_a_translation():
    with translation.override("ar"):
        html = render_to_string("outcomes/q_state.html", {"state": "invalid"})
    assert '<html lang="ar" dir="rtl">' in html
    assert "<h1>We can't find this questionnaire</h1>" in html  # no Arabic catalogue: English, never a key

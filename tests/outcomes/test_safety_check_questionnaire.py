"""What the early safety checks ask (issue 15): the pain slider and the short early safety questions, never the
outcome measures; harvest-site questions only for products with a harvest, the blood-sugar question only after a
steroid; the patient's page says it is a short safety check, and the thanks page says 999 for clot or allergy
signs."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from outcomes import questionnaire
from outcomes.instruments import get_instrument
from outcomes.models import Submission, Timepoint
from outcomes.services import link_create, questionnaire_submit
from registry.choices import PRODUCTS_WITH_HARVEST, Product
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up, q_url

CLINIC_ADVICE = "contact the clinic today"


def early_items(product: str) -> set[str]:
    return {item.code for item in get_instrument("SAFETY_EARLY").items_for_product(product)}


@pytest.fixture
def day_3(recorded):
    check = follow_up(recorded, Timepoint.DAY_3)
    with travel_to(check.opens_on):
        yield check


def test_a_safety_check_asks_the_pain_slider_and_early_questions_only(recorded):
    for timepoint in (Timepoint.DAY_3, Timepoint.DAY_12):
        codes = [i.code for i in questionnaire.instruments_for(follow_up(recorded, timepoint))]
        assert codes == ["VAS", "SAFETY_EARLY"]
    assert "KOOS" in [i.code for i in questionnaire.instruments_for(follow_up(recorded, Timepoint.ONE_MONTH))]


def test_the_early_questions_cover_issue_15():
    items = early_items(Product.CORTICOSTEROID) | early_items(Product.BMAC)
    assert {
        "fever",
        "unwell",
        "redness_heat",
        "swelling",
        "unable_to_bear_weight",
        "calf_pain_swelling",
        "breathless_chest_pain",
        "rash_itching",
        "face_swelling",
        "puncture_site",
        "numbness",
        "harvest_site_problem",
        "blood_glucose",
    } <= items


def test_harvest_questions_follow_the_registrys_list_of_products_with_a_harvest():
    item = get_instrument("SAFETY_EARLY").item("harvest_site_problem")
    assert set(item.products) == {str(p) for p in PRODUCTS_WITH_HARVEST}


@pytest.mark.parametrize("product", list(Product))
def test_harvest_site_only_with_a_harvest_and_blood_sugar_only_after_a_steroid(product):
    items = early_items(product)
    assert ("harvest_site_problem" in items) == (product in (Product.BMAC, Product.ADSC))
    assert ("blood_glucose" in items) == (product == Product.CORTICOSTEROID)


def test_blood_sugar_offers_i_dont_have_diabetes():
    labels = [o.label for o in get_instrument("SAFETY_EARLY").item("blood_glucose").options]
    assert "I don't have diabetes" in labels


def test_the_page_says_it_is_a_short_safety_check_and_asks_no_outcome_measures(client, day_3):
    html = client.get(q_url(link_create(follow_up=day_3))).content.decode()
    assert "short safety check" in html.lower()
    assert "It takes about 2 minutes." in html
    assert 'name="SAFETY_EARLY.calf_pain_swelling"' in html
    assert 'name="VAS.pain"' in html
    assert 'name="KOOS.' not in html
    assert 'name="OKS.' not in html
    assert 'name="SAFETY_EARLY.harvest_site_problem"' in html  # the factories' injection is BMAC
    assert 'name="SAFETY_EARLY.blood_glucose"' not in html


def test_a_steroid_patient_is_asked_about_blood_sugar_and_not_a_harvest(client, clinic, clinician):
    with travel_to(dt.date(2026, 3, 1)):
        injection = make_injection(
            PatientFactory(clinic=clinic),
            clinician,
            product="corticosteroid",
            protocol={"drug": "triamcinolone_acetonide", "dose_mg": 40},
        )
    check = follow_up(injection, Timepoint.DAY_3)
    with travel_to(check.opens_on):
        html = client.get(q_url(link_create(follow_up=check))).content.decode()
        assert 'name="SAFETY_EARLY.blood_glucose"' in html
        assert 'name="SAFETY_EARLY.harvest_site_problem"' not in html
        submission = questionnaire_submit(
            follow_up=check, data=answers_for(check, **{"SAFETY_EARLY.blood_glucose": "1"})
        )
    assert submission.answers["SAFETY_EARLY"]["blood_glucose"] == {"value": 1, "option": "Yes, higher than usual"}


def test_answers_are_stored_with_the_pain_score(day_3):
    submission = questionnaire_submit(follow_up=day_3, data=answers_for(day_3, **{"VAS.pain": "64"}))
    assert submission.vas_pain == 64
    assert submission.koos_pain is None
    assert submission.instrument_versions == {"VAS": "1", "SAFETY_EARLY": "1"}


def test_an_outcome_question_posted_to_a_safety_check_is_refused_and_nothing_stored(day_3):
    with pytest.raises(ValidationError) as error:
        questionnaire_submit(follow_up=day_3, data=answers_for(day_3, **{"KOOS.P1": "2"}))
    assert "KOOS.P1" in error.value.message_dict
    assert not Submission.objects.filter(follow_up=day_3).exists()


@pytest.mark.parametrize("item", ["breathless_chest_pain", "face_swelling"])
def test_clot_or_allergy_signs_tell_the_patient_to_call_999(client, day_3, item):
    response = client.post(q_url(link_create(follow_up=day_3)), answers_for(day_3, **{f"SAFETY_EARLY.{item}": "yes"}))
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert 'href="tel:999"' in html
    assert CLINIC_ADVICE in html
    submission = Submission.objects.get(follow_up=day_3)
    assert submission.emergency_answers() == (f"SAFETY_EARLY.{item}",)


@pytest.mark.parametrize("item", ["redness_heat", "unable_to_bear_weight", "puncture_site", "calf_pain_swelling"])
def test_other_urgent_early_answers_bring_the_clinic_advice_without_999(client, day_3, item):
    response = client.post(q_url(link_create(follow_up=day_3)), answers_for(day_3, **{f"SAFETY_EARLY.{item}": "yes"}))
    html = client.get(response["Location"]).content.decode()
    assert CLINIC_ADVICE in html
    assert "tel:999" not in html


@pytest.mark.parametrize("item", ["swelling", "unwell", "rash_itching", "numbness", "harvest_site_problem"])
def test_answers_for_the_clinics_review_get_the_ordinary_thanks(client, day_3, item):
    response = client.post(q_url(link_create(follow_up=day_3)), answers_for(day_3, **{f"SAFETY_EARLY.{item}": "yes"}))
    html = client.get(response["Location"]).content.decode()
    assert "There is nothing more to do" in html
    assert CLINIC_ADVICE not in html

"""The consultation page and API show "knees like mine" for the consultation's knee (issue 16): the figures are
outcomes.analysis.expectation's for the consultation's KL grade, age and proposed product, over the reader's
clinics, at the follow-up of the review point."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from consultations.selectors import consultation_expectation, review_timepoint
from outcomes.analysis import plan_outcomes
from outcomes.analysis.cohort import cohort
from outcomes.analysis.expectation import KneeProfile, expectation
from tests.consultations.factories import make_consultation
from tests.outcomes.analysis_data import bulk_pairs

BEFORE = {"pain": 40.0, "adl": 40.0, "pga": 60.0, "oks": 20.0}
BETTER = {"pain": 60.0, "adl": 60.0, "pga": 30.0, "oks": 30.0}
WORSE = {"pain": 35.0, "adl": 40.0, "pga": 60.0, "oks": 18.0}
TODAY = dt.date(2027, 6, 1)  # the bulk plans' 6-month follow-ups (injected March 2026) are long due


@pytest.mark.parametrize(
    ("months", "timepoint"), [(None, "6m"), (1, "1m"), (3, "1m"), (6, "6m"), (11, "6m"), (12, "12m"), (24, "24m")]
)
def test_the_review_point_picks_the_latest_follow_up_not_after_it(months, timepoint):
    assert review_timepoint(months) == timepoint


@pytest.fixture
def treated_knees(clinic, clinician):
    """14 BMAC knees, KL 2, aged 66 (the factory consultation's band): 9 improved, 3 worse, 2 never answered."""
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9 + [(BEFORE, WORSE)] * 3 + [(BEFORE, None)] * 2, timepoint="6m")
    plan_outcomes.refresh()


@time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
def test_the_page_shows_what_knees_like_this_one_did(client, clinician, patient, treated_knees):
    consultation = make_consultation(patient, clinician)  # BMAC, KL 2, born 1960: 66 at the consultation
    expected = expectation(cohort(clinician), KneeProfile(2, consultation.age_at_consultation, "bmac"), today=TODAY)
    [bmac] = [o for o in expected["options"] if o["product"] == "bmac"]
    assert bmac["enough"]
    client.force_login(clinician)
    page = client.get(reverse("consultations:consultation-detail", args=[consultation.pk])).content.decode()
    section = page.split('id="expectation"', 1)[1].split("</section>", 1)[0]
    assert 'data-product="bmac"' in section
    assert "6 months" in section
    # 12 of 14 heard back: 2 not heard back are fewer than 10, so the page states the 14 due as a range beside the
    # 12, and nothing else on it (injections given, rates per 100 injections) gives the 14 back.
    assert bmac["heard_back"]["n"] == 12
    assert "12" in section
    assert "13 to 21" in section
    assert "14" not in section


@time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
def test_the_api_gives_the_same_figures_as_the_engine(api_as, clinician, patient, treated_knees):
    consultation = make_consultation(patient, clinician)
    response = api_as(clinician).get(reverse("consultations-api:consultation-expectation", args=[consultation.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body == consultation_expectation(consultation, clinician)
    assert body["options"][0]["product"] == "bmac"  # the proposed product first
    assert body["timepoint"] == "6m"


@time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
def test_too_few_knees_says_so_rather_than_a_number(client, clinician, patient, clinic):
    bulk_pairs(clinic, clinician, [(BEFORE, BETTER)] * 9, timepoint="6m")  # one short of the minimum
    plan_outcomes.refresh()
    consultation = make_consultation(patient, clinician)
    client.force_login(clinician)
    page = client.get(reverse("consultations:consultation-detail", args=[consultation.pk])).content.decode()
    section = page.split('id="expectation"', 1)[1].split("</section>", 1)[0]
    assert "Not enough data in this registry" in section
    assert "9 of" not in section


@time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
def test_another_clinics_knees_are_not_counted(api_as, clinician, patient, other_clinic, outsider, treated_knees):
    """The knees are the reader's clinics': a clinician of another clinic cannot open this consultation, and the
    other clinic's knees do not count for this one."""
    bulk_pairs(other_clinic, outsider, [(BEFORE, BETTER)] * 20, timepoint="6m")
    plan_outcomes.refresh()
    consultation = make_consultation(patient, clinician)
    url = reverse("consultations-api:consultation-expectation", args=[consultation.pk])
    assert api_as(outsider).get(url).status_code == 404
    [bmac] = [o for o in api_as(clinician).get(url).json()["options"] if o["product"] == "bmac"]
    assert bmac["heard_back"]["n"] == 12

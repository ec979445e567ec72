"""Fallback paths (consultations.paths and /consultations/fallback-paths/): reviews by product and KL band, and
outcomes after a repeat course beside the first course of the same knees, counted in SQL over the reader's
clinics, figures checked by hand."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from consultations import paths
from outcomes.analysis import plan_outcomes
from outcomes.analysis.cohort import cohort
from registry.models import TreatmentPlan
from tests.consultations.factories import make_review
from tests.factories import PRP_PROTOCOL, PatientFactory
from tests.outcomes.analysis_data import make_plan

NOW = time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
REPEAT_DAY = dt.date(2026, 9, 20)


def _plan(clinic, clinician, before, after, **injection):
    """A course with KOOS Pain and OKS before it and, unless ``after`` is None, at 6 months (else 6m missed)."""
    scores = {"baseline": {"pain": before[0], "oks": before[1]}}
    if after is not None:
        scores["6m"] = {"pain": after[0], "oks": after[1]}
    return make_plan(clinic, clinician, scores=scores, **injection)


def _repeat(first, clinic, clinician, before, after, **injection):
    plan = _plan(clinic, clinician, before, after, patient=first.patient, injected_on=REPEAT_DAY, **injection)
    TreatmentPlan.objects.filter(pk=plan.pk).update(repeat_of=first)
    return plan


@pytest.fixture
def registry(clinic, clinician, other_clinic, outsider):
    """North: five BMAC courses, four reviewed, three repeated; South: one of each, never counted for North."""
    with NOW:
        a1 = _plan(clinic, clinician, (40, 20), (45, 22), kl_grade=2)
        a2 = _plan(clinic, clinician, (50, 25), None, kl_grade=1)
        a3 = _plan(clinic, clinician, (30, 15), (32, 16), kl_grade=4)
        a4 = _plan(clinic, clinician, (40, 20), (70, 35), kl_grade=2)
        a5 = _plan(clinic, clinician, (40, 20), (40, 20), kl_grade=3)
        make_review(a1, clinician, offered=["repeat_injection"], offered_product="bmac", path_taken="repeat_injection")
        make_review(a2, clinician, finding="no_follow_up", offered=["physiotherapy", "surgical_referral"],
                    path_taken="declined")  # fmt: skip
        make_review(a3, clinician, offered=["another_product"], offered_product="prp", path_taken="another_product")
        make_review(a4, clinician, finding="improved", offered=["nothing"], path_taken="nothing")
        _repeat(a1, clinic, clinician, (45, 22), (60, 30))  # KOOS Pain +15, OKS +8: both improved
        _repeat(a5, clinic, clinician, (40, 20), (45, 30))  # +5 (not), +10 (improved)
        _repeat(a3, clinic, clinician, (32, 16), None, product="prp", protocol=PRP_PROTOCOL)  # 6 months missed
        south = _plan(other_clinic, outsider, (40, 20), (41, 21), kl_grade=2)
        make_review(
            south, outsider, offered=["repeat_injection"], offered_product="bmac", path_taken="repeat_injection"
        )
        _repeat(south, other_clinic, outsider, (41, 21), (80, 45))
    plan_outcomes.refresh()


def _counts(row):
    return (row.product, row.band, row.reviewed, row.findings, row.offered, row.taken)


def test_reviews_by_product_and_kl_band_checked_by_hand(registry, clinician):
    rows = paths.fallback_paths(cohort(clinician))
    assert [_counts(r) for r in rows] == [
        (
            "bmac",
            "early",
            3,  # a1, a2, a4
            {"not_improved": 1, "no_follow_up": 1, "improved": 1, "ask_patient": 0},
            {"physiotherapy": 1, "repeat_injection": 1, "another_product": 0, "surgical_referral": 1, "nothing": 1},
            {
                "physiotherapy": 0,
                "repeat_injection": 1,
                "another_product": 0,
                "surgical_referral": 0,
                "nothing": 1,
                "declined": 1,
                "undecided": 0,
            },
        ),
        (
            "bmac",
            "advanced",
            1,  # a3
            {"not_improved": 1, "no_follow_up": 0, "improved": 0, "ask_patient": 0},
            {"physiotherapy": 0, "repeat_injection": 0, "another_product": 1, "surgical_referral": 0, "nothing": 0},
            {
                "physiotherapy": 0,
                "repeat_injection": 0,
                "another_product": 1,
                "surgical_referral": 0,
                "nothing": 0,
                "declined": 0,
                "undecided": 0,
            },
        ),
    ]


def _measures(course):
    return [(m.improved, m.compared, m.mean_change) for m in course.measures]


def test_outcomes_after_a_repeat_course_checked_by_hand(registry, clinician):
    bmac_bmac, bmac_prp = paths.repeat_outcomes(cohort(clinician), today=dt.date(2027, 6, 1))
    assert (bmac_bmac.first_product, bmac_bmac.repeat_product) == ("bmac", "bmac")
    # Repeats of a1 and a5: KOOS Pain +15 and +5 (1 of 2 at least 11.3), OKS +8 and +10 (2 of 2 at least 7).
    assert (bmac_bmac.repeat.courses, bmac_bmac.repeat.due, bmac_bmac.repeat.heard_back) == (2, 2, 2)
    assert _measures(bmac_bmac.repeat) == [(1, 2, 10.0), (2, 2, 9.0)]
    # Their first courses: KOOS Pain +5 and 0, OKS +2 and 0: none improved.
    assert _measures(bmac_bmac.first) == [(0, 2, 2.5), (0, 2, 1.0)]
    # 1 of 2: Wilson 95% 9.5% to 90.5% (p 0.5, z 1.96: (1.4604 -/+ 1.1843) / 2.9208).
    low, high = bmac_bmac.repeat.measures[0].interval
    assert (round(low, 1), round(high, 1)) == (9.5, 90.5)
    assert bmac_bmac.repeat.measures[1].interval == (pytest.approx(34.24, abs=0.01), 100.0)
    # a3 -> PRP: the repeat missed its 6 months (due, not heard back, nothing to compare); a3 itself +2 and +1.
    assert (bmac_prp.first_product, bmac_prp.repeat_product) == ("bmac", "prp")
    assert (bmac_prp.repeat.courses, bmac_prp.repeat.due, bmac_prp.repeat.heard_back) == (1, 1, 0)
    assert _measures(bmac_prp.repeat) == [(0, 0, None), (0, 0, None)]
    assert _measures(bmac_prp.first) == [(0, 1, 2.0), (0, 1, 1.0)]


def test_other_clinics_are_never_counted(registry, outsider):
    (row,) = paths.fallback_paths(cohort(outsider))
    assert (row.reviewed, row.taken["repeat_injection"]) == (1, 1)
    (repeat,) = paths.repeat_outcomes(cohort(outsider))
    assert _measures(repeat.repeat) == [(1, 1, 39.0), (1, 1, 24.0)]


def test_three_grouped_queries_whatever_the_number_of_knees(registry, clinician, django_assert_max_num_queries):
    plans = cohort(clinician)
    with django_assert_max_num_queries(4):  # (administrator?) and one grouped query each: reviews, repeats, firsts
        paths.fallback_paths(plans)
        paths.repeat_outcomes(plans)


def test_page_for_clinicians_and_auditors(client, registry, clinician, auditor):
    for user in (clinician, auditor):  # as on the outcomes dashboard, read-only staff see the counts too
        client.force_login(user)
        response = client.get(reverse("consultations:fallback-paths"))
        assert response.status_code == 200
        text = response.content.decode()
        assert "BMAC" in text
        assert "KL grade 0-2 (early)" in text
        assert "1 of 2 (50%; 95% CI 9–91%)" in text  # KOOS Pain after the BMAC repeats
        assert "South" not in text


def test_page_query_count(client, registry, clinician, django_assert_max_num_queries):
    client.force_login(clinician)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("consultations:fallback-paths")).status_code == 200


def test_filters_narrow_and_bad_ones_are_a_400(client, registry, clinician, clinic, other_clinic):
    client.force_login(clinician)
    url = reverse("consultations:fallback-paths")
    later = client.get(url, {"injected_after": "2026-09-01"})  # only the repeat courses began then
    assert later.status_code == 200
    assert [r.reviewed for r in later.context["rows"]] == []
    assert [r.repeat.courses for r in later.context["repeats"]] == [2, 1]
    assert client.get(url, {"injected_after": "not a date"}).status_code == 400
    assert client.get(url, {"clinic": other_clinic.pk}).status_code == 400  # not one of theirs: not a choice
    assert client.get(url, {"clinic": clinic.pk}).status_code == 200


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get(reverse("consultations:fallback-paths"))
    assert response.status_code == 302


def test_linked_from_the_outcomes_dashboard(client, clinician):
    client.force_login(clinician)
    text = client.get(reverse("outcomes:dashboard")).content.decode()
    assert f'href="{reverse("consultations:fallback-paths")}"' in text


def test_nobody_without_a_clinic_sees_any_count(registry, django_user_model):
    loner = django_user_model.objects.create_user(username="loner", password="x")
    assert paths.fallback_paths(cohort(loner)) == []
    assert paths.repeat_outcomes(cohort(loner)) == []


def test_a_patient_of_north_only_in_north(registry, clinic, clinician):
    # A knee reviewed with undecided path lands in its own column, nothing else changes.
    with NOW:
        plan = _plan(clinic, clinician, (40, 20), None, kl_grade=3, patient=PatientFactory(clinic=clinic))
        make_review(plan, clinician, finding="no_follow_up", offered=["physiotherapy"], path_taken="undecided")
    plan_outcomes.refresh()
    advanced = next(r for r in paths.fallback_paths(cohort(clinician)) if r.band == "advanced")
    assert (advanced.reviewed, advanced.taken["undecided"], advanced.findings["no_follow_up"]) == (2, 1, 1)

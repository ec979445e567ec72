"""Each dashboard filter narrows the cohort to the plans it names, and only those; scoping comes first."""

import datetime as dt

import pytest
from django.core.cache import cache

from outcomes.analysis.summary import InvalidFilters, outcomes_summary
from registry.choices import Role
from registry.models import Membership
from tests.factories import BMAC_PROTOCOL, PatientFactory
from tests.outcomes.analysis_data import make_plan

PRP_PROTOCOL = {"leukocytes": "poor", "spins": 2, "activation": "none"}


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast personas
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def plans(clinic, other_clinic, clinician, outsider):
    """Four plans, each differing from the first in one or two ways."""
    Membership.objects.create(user=clinician, clinic=other_clinic, role=Role.CLINICIAN)
    make_plan(clinic, clinician, kl_grade=2)  # BMAC, posterior iliac, centrifugation, 66, single, 2 March
    make_plan(clinic, clinician, product="prp", protocol=PRP_PROTOCOL, kl_grade=3, injected_on=dt.date(2026, 5, 4))
    make_plan(
        clinic,
        clinician,
        patient=PatientFactory(clinic=clinic, year_of_birth=1950),  # 76 at injection
        kl_grade=4,
        protocol={**BMAC_PROTOCOL, "harvest_site": "proximal_tibia", "processing_method": "filtration"},
        planned_injections=3,
    )
    make_plan(other_clinic, outsider, kl_grade=2)


def plans_for(user, **params):
    return outcomes_summary(user, params, today=dt.date(2026, 10, 1))["plans"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 4),
        ({"product": "bmac"}, 3),
        ({"product": "prp"}, 1),
        ({"harvest_site": "proximal_tibia"}, 1),
        ({"harvest_site": "posterior_iliac_crest"}, 2),
        ({"processing_method": "filtration"}, 1),
        ({"processing_method": "centrifugation"}, 2),
        ({"kl_grade": "2"}, 2),
        ({"kl_grade": "4"}, 1),
        ({"age_band": "70-79"}, 1),
        ({"age_band": "60-69"}, 3),
        ({"staged": "staged"}, 1),
        ({"staged": "single"}, 3),
        ({"injected_after": "2026-04-01"}, 1),
        ({"injected_before": "2026-04-01"}, 3),
        ({"injected_after": "2026-03-02", "injected_before": "2026-03-02"}, 3),
        ({"product": "bmac", "kl_grade": "2", "harvest_site": "posterior_iliac_crest"}, 2),
        ({"product": "prp", "kl_grade": "2"}, 0),
    ],
)
def test_each_filter_narrows_the_cohort(plans, clinician, params, expected):
    assert plans_for(clinician, **params) == expected


def test_clinic_filter(plans, clinician, clinic, other_clinic):
    assert plans_for(clinician, clinic=str(clinic.pk)) == 3
    assert plans_for(clinician, clinic=str(other_clinic.pk)) == 1


def test_a_clinician_of_another_clinic_sees_none_of_it(plans, outsider, clinic):
    assert plans_for(outsider) == 1  # only their own clinic's plan
    with pytest.raises(InvalidFilters):  # naming a clinic they cannot see is an invalid choice, not a peek
        plans_for(outsider, clinic=str(clinic.pk))


def test_invalid_values_are_rejected(plans, clinician):
    for params in ({"kl_grade": "7"}, {"product": "snake_oil"}, {"injected_after": "yesterday"}):
        with pytest.raises(InvalidFilters):
            plans_for(clinician, **params)


def test_withdrawn_registry_consent_and_planned_injections_are_not_analysed(plans, clinician, clinic):
    patient = PatientFactory(clinic=clinic, consent_registry=False)
    make_plan(clinic, clinician, patient=patient)
    make_plan(clinic, clinician, status="planned", injected_on=dt.date(2026, 12, 20))
    assert plans_for(clinician) == 4

"""Rules on one adverse event: enforced by the model (so web, API and admin agree) and backed by constraints."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from safety.choices import OUTCOME_CODES, Outcome
from safety.models import AdverseEvent
from tests.safety.ae_support import PRP_PROTOCOL, record, record_serious


def test_grade_5_needs_death_and_a_fatal_outcome(clinician, injection):
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, severity=5, outcome="recovered")
    assert set(caught.value.message_dict) >= {"serious_death", "outcome"}
    assert not AdverseEvent.objects.exists()


def test_grade_5_with_death_and_fatal_outcome_is_recorded_and_serious(clinician, injection):
    event = record(
        clinician, injection, severity=5, serious_death=True, outcome="fatal", outcome_on=dt.date(2026, 3, 9)
    )
    assert event.is_serious
    assert event.seriousness_criteria == ["Results in death"]


def test_the_database_refuses_grade_5_without_death(clinician, injection):
    event = record(clinician, injection)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=event.pk).update(severity=5)


def test_is_serious_cannot_disagree_with_the_criteria(clinician, injection):
    event = record(clinician, injection)
    assert not event.is_serious
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=event.pk).update(is_serious=True)


def test_every_choice_is_checked_by_the_database(clinician, injection):
    event = record(clinician, injection)
    for field in (
        "category",
        "causality",
        "causality_product",
        "causality_procedure",
        "outcome",
        "source",
        "relatedness",
        "expectedness",
        "action_taken",
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            AdverseEvent.objects.filter(pk=event.pk).update(**{field: "nonsense"})


def test_outcome_date_rules(clinician, injection):
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, outcome="recovered", outcome_on=None)
    assert "outcome_on" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, outcome_on=dt.date(2026, 3, 1))
    assert "outcome_on" in caught.value.message_dict


def test_onset_before_every_injection_is_refused(clinician, injection):
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, onset_on=dt.date(2026, 2, 1))
    assert "onset_on" in caught.value.message_dict


def test_harvest_site_event_needs_a_harvest_product(clinician, patient):
    from tests.factories import make_injection

    prp = make_injection(patient, clinician, product="prp", protocol=PRP_PROTOCOL)
    with pytest.raises(ValidationError) as caught:
        record(clinician, prp, category="harvest_haematoma")
    assert "category" in caught.value.message_dict


def test_injections_must_be_the_patients(clinician, injection, clinic):
    from tests.factories import PatientFactory, make_injection

    other = make_injection(PatientFactory(clinic=clinic), clinician)
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, injections=[injection, other])
    assert "injections" in caught.value.message_dict


def test_outcome_mappings_are_explicit():
    # Reference 6.4: unknown is 0 in E2B(R3) but 6 in E2B(R2).
    assert OUTCOME_CODES[Outcome.UNKNOWN].e2b_r3 == "0"
    assert OUTCOME_CODES[Outcome.UNKNOWN].e2b_r2 == "6"
    assert OUTCOME_CODES[Outcome.RECOVERED_WITH_SEQUELAE].fhir_r4 == "resolvedWithSequelae"
    assert OUTCOME_CODES[Outcome.NOT_RECOVERED].fhir_r4 == "ongoing"
    assert set(OUTCOME_CODES) == set(Outcome.values)


def test_status_follows_the_outcome(clinician, injection):
    assert record(clinician, injection).status == "resolved"
    assert record_serious(clinician, injection).status == "open"

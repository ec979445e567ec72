import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from registry.models import Injection
from tests.factories import EXOSOME_PROTOCOL, GOVERNANCE, make_injection


def test_bmac_injection_records_protocol_and_selection_snapshot(patient, clinician):
    injection = make_injection(patient, clinician)
    assert injection.plan.planned_injections == 1
    assert injection.age_at_injection == 2026 - 1960
    assert injection.protocol["harvest_site"] == "posterior_iliac_crest"
    assert injection.protocol["aspirate_volume_ml"] == 60.0
    assert injection.history.count() == 1
    assert injection.history.first().history_change_reason == "Injection recorded"


def test_exosome_without_governance_names_what_is_missing(patient, clinician):
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL))
    message = " ".join(err.value.message_dict["governance"])
    assert "study registration number" in message
    assert "ethics approval reference" in message
    assert "regulatory framework" in message
    assert not Injection.objects.exists()


def test_exosome_with_governance_saves(patient, clinician):
    injection = make_injection(
        patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=dict(GOVERNANCE)
    )
    assert injection.governance["study_registration"] == "NCT01234567"


def test_bmac_concentrate_cannot_exceed_aspirate(patient, clinician):
    protocol = {
        "harvest_site": "anterior_iliac_crest",
        "aspirate_volume_ml": 10,
        "anticoagulant": "heparin",
        "processing_system": "Kit",
        "processing_method": "centrifugation",
        "concentrate_volume_ml": 12,
    }
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, protocol=protocol)
    assert any("exceed the aspirate" in m for m in err.value.message_dict["protocol"])


def test_staged_plan_joins_first_injection(patient, clinician):
    first = make_injection(patient, clinician, planned_injections=2)
    second = make_injection(
        patient, clinician, planned_injections=2, number_in_plan=2, injected_on=dt.date(2026, 3, 16)
    )
    assert second.plan_id == first.plan_id
    assert first.plan.is_staged


def test_completeness_lists_missing_items(patient, clinician):
    injection = make_injection(patient, clinician)
    completeness = injection.protocol_completeness()
    assert "Harvest anaesthesia" in completeness.missing
    assert "Harvest site" in completeness.recorded
    assert 0 < completeness.percent < 100


def test_stored_prp_protocol_validates_again_when_corrected(patient, clinician):
    from registry.services import injection_update

    protocol = {
        "leukocytes": "poor",
        "spins": 2,
        "platelet_count": 600,
        "prp_count_method": "analyser",
        "activation": "none",
    }
    injection = make_injection(patient, clinician, product="prp", protocol=protocol)
    assert injection.protocol["platelet_count"] == 600
    corrected = injection_update(injection=injection, by=clinician, data={"volume_ml": 5}, reason="Volume typo")
    assert corrected.protocol["platelet_count"] == 600

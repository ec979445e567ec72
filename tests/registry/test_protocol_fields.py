"""Issue 15's protocol fields: every count states its method, HA in kDa, steroid history, BMA named as such, EV
release data (MISEV2023 marker classes, expired lots refused, allogeneic donor screening), governance for
adipose and other cell products. New records must give what the issue requires; records stored before stay
readable and editable without it."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry import services
from registry.models import Injection
from safety.exports import cioms
from tests.factories import BMAC_PROTOCOL, EXOSOME_PROTOCOL, GOVERNANCE, make_injection

HA = {"product_name": "Example HA", "molecular_weight_kda": 6000, "cross_linked": "yes", "dose_mg": 48}
STEROID = {"drug": "triamcinolone_acetonide", "dose_mg": 40}
PRP = {"leukocytes": "poor", "spins": 2, "activation": "none", "blood_volume_ml": 30}
MICROFRAGMENTED = {
    "preparation": "microfragmented",
    "harvest_site": "abdomen",
    "lipoaspirate_volume_ml": 100,
    "processing": "mechanical",
}
ENZYMATIC_SVF = {**MICROFRAGMENTED, "preparation": "svf", "processing": "enzymatic"}


def refused(patient, clinician, **overrides) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        make_injection(patient, clinician, **overrides)
    return [m for messages in caught.value.message_dict.values() for m in messages]


def stored(injection: Injection, protocol: dict, **fields) -> Injection:
    """The record as written before issue 15's fields existed (nothing validates it)."""
    Injection.objects.filter(pk=injection.pk).update(protocol=protocol, **fields)
    return Injection.objects.get(pk=injection.pk)


# --- Count methods ------------------------------------------------------------------------------------------------


def test_a_count_without_its_method_is_refused_on_a_new_record(patient, clinician):
    protocol = {k: v for k, v in BMAC_PROTOCOL.items() if k != "tnc_method"}
    assert "tnc_method: Say which method measured the TNC." in refused(patient, clinician, protocol=protocol)
    cd34 = {**BMAC_PROTOCOL, "cd34_per_ml": 0.8}
    assert "cd34_method: Say which method measured the CD34+ cells." in refused(patient, clinician, protocol=cd34)
    saved = make_injection(patient, clinician, protocol={**cd34, "cd34_method": "ishage_single"})
    assert saved.protocol["cd34_method"] == "ishage_single"


def test_a_stored_count_without_a_method_stays_editable_until_the_count_changes(patient, clinician):
    old = {k: v for k, v in BMAC_PROTOCOL.items() if k != "tnc_method"}
    injection = stored(make_injection(patient, clinician), old)
    corrected = services.injection_update(injection=injection, by=clinician, data={"volume_ml": 5}, reason="Typo")
    assert corrected.protocol == old  # never changed behind anyone's back
    with pytest.raises(ValidationError) as caught:
        services.injection_update(
            injection=corrected, by=clinician, data={"protocol": {**old, "tnc_per_ml": 40}}, reason="Lab report"
        )
    assert "tnc_method: Say which method measured the TNC." in caught.value.message_dict["protocol"]


def test_prp_counts_need_their_sample_method(patient, clinician):
    counts = {**PRP, "platelet_count": 900, "blood_platelet_count": 250}
    messages = refused(patient, clinician, product="prp", protocol=counts)
    assert "blood_count_method: Say which method measured the whole-blood platelets." in messages
    assert "prp_count_method: Say which method measured the PRP platelets." in messages


# --- Unit slips -----------------------------------------------------------------------------------------------------


def test_ten_million_platelets_is_refused_naming_the_value_in_the_fields_unit(patient, clinician):
    protocol = {**PRP, "platelet_count": 10_000_000, "prp_count_method": "analyser"}
    message = " ".join(refused(patient, clinician, product="prp", protocol=protocol))
    assert "10,000,000 ×10³/µL is above the possible maximum of 20,000 ×10³/µL" in message
    assert "in ×10³/µL that would be 10,000" in message


# --- HA -------------------------------------------------------------------------------------------------------------


def test_a_new_ha_record_needs_molecular_weight_in_kda_and_cross_linking(patient, clinician):
    legacy_style = {"product_name": "Example HA", "molecular_weight": "high", "dose_mg": 48}
    messages = refused(patient, clinician, product="ha", protocol=legacy_style)
    assert "molecular_weight_kda: This field is required." in messages
    assert "cross_linked: This field is required." in messages
    assert make_injection(patient, clinician, product="ha", protocol=HA).protocol["molecular_weight_kda"] == 6000


def test_a_stored_ha_class_stays_readable_and_editable(client, patient, clinician):
    legacy = {"product_name": "Example HA", "molecular_weight": "medium", "dose_mg": 48}
    injection = stored(make_injection(patient, clinician, product="ha", protocol=HA), legacy)
    corrected = services.injection_update(injection=injection, by=clinician, data={"volume_ml": 3}, reason="Typo")
    assert corrected.protocol == legacy
    client.force_login(clinician)
    page = client.get(reverse("registry:injection-detail", args=[injection.pk])).text
    assert "Medium (1,500–6,000 kDa)" in page  # the old class, given the range it never stated


# --- Corticosteroid -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "saved"),
    [(None, False), ("2026-03-02", False), ("2026-03-01", True), ("2025-03-01", True), ("2025-02-28", False)],
)
def test_earlier_steroid_injections_need_the_last_date_within_12_months(patient, clinician, last, saved):
    # injected 2 March 2026: the last earlier one is before it and no more than 366 days before
    protocol = {**STEROID, "prior_injections_12_months": 2, **({"last_prior_injection_on": last} if last else {})}
    if saved:
        injection = make_injection(patient, clinician, product="corticosteroid", protocol=protocol)
        assert injection.protocol["last_prior_injection_on"] == last
    else:
        assert refused(patient, clinician, product="corticosteroid", protocol=protocol)


# --- BMA ------------------------------------------------------------------------------------------------------------


def test_an_unprocessed_aspirate_is_shown_as_bma(client, patient, clinician):
    protocol = {**BMAC_PROTOCOL, "processing_method": "unprocessed", "spins": 0}
    injection = make_injection(patient, clinician, protocol=protocol)
    client.force_login(clinician)
    page = client.get(reverse("registry:injection-detail", args=[injection.pk])).text
    assert "<h1>BMA (unprocessed bone marrow aspirate), left knee</h1>" in page
    assert cioms.suspect(injection).startswith("Autologous bone marrow aspirate, unprocessed (BMA) (")


# --- Exosomes / EVs -------------------------------------------------------------------------------------------------


def exosome(patient, clinician, **changes):
    protocol = {k: v for k, v in {**EXOSOME_PROTOCOL, **changes}.items() if v is not None}
    return make_injection(patient, clinician, product="exosome", protocol=protocol, governance=dict(GOVERNANCE))


@pytest.mark.parametrize("missing", ["transmembrane_markers", "cytosolic_markers", "negative_markers"])
def test_a_characterisation_missing_a_marker_class_is_refused(patient, clinician, missing):
    with pytest.raises(ValidationError) as caught:
        exosome(patient, clinician, **{missing: None})
    assert f"{missing}: This field is required." in caught.value.message_dict["protocol"]


@pytest.mark.parametrize(("expiry", "saved"), [("2026-03-02", True), ("2026-03-01", False)])
def test_an_expired_lot_is_refused_on_the_injection_date(patient, clinician, expiry, saved):
    if saved:
        assert exosome(patient, clinician, lot_expiry_on=expiry).protocol["lot_expiry_on"] == expiry
        return
    with pytest.raises(ValidationError) as caught:
        exosome(patient, clinician, lot_expiry_on=expiry)
    assert "lot_expiry_on: The lot expired on 01 Mar 2026" in " ".join(caught.value.message_dict["protocol"])


def test_an_allogeneic_product_needs_donor_screening_and_a_certificate_its_reference(patient, clinician):
    with pytest.raises(ValidationError) as caught:
        exosome(patient, clinician, donor_screening=None, coa_reference=None)
    messages = caught.value.message_dict["protocol"]
    assert "donor_screening: Say how the allogeneic donor was screened." in messages
    assert "coa_reference: Give the certificate of analysis reference." in messages
    assert exosome(patient, clinician, donor_source="autologous", donor_screening=None).protocol["donor_source"]


# --- Governance ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "needs_study"),
    [
        (ENZYMATIC_SVF, True),
        ({**MICROFRAGMENTED, "preparation": "culture_expanded", "processing": "enzymatic"}, True),
        (MICROFRAGMENTED, False),
        ({**MICROFRAGMENTED, "preparation": "svf"}, False),  # mechanically prepared SVF
    ],
)
def test_adipose_cells_need_a_study_when_enzymatic_or_culture_expanded(patient, clinician, protocol, needs_study):
    if needs_study:
        messages = refused(patient, clinician, product="adsc", protocol=protocol)
        assert any("can only be recorded under a registered study" in m for m in messages)
        injection = make_injection(patient, clinician, product="adsc", protocol=protocol, governance=dict(GOVERNANCE))
        assert injection.governance["study_registration"] == "NCT01234567"
    else:
        assert make_injection(patient, clinician, product="adsc", protocol=protocol).governance == {}


def test_an_other_cell_product_needs_a_study(patient, clinician):
    cells = {"description": "Allogeneic cord-blood cells, 2 mL", "cell_product": "yes"}
    assert any("registered study" in m for m in refused(patient, clinician, product="other", protocol=cells))
    ozone = {"description": "Ozone, 20 mL at 20 µg/mL", "cell_product": "no"}
    assert make_injection(patient, clinician, product="other", protocol=ozone).governance == {}


def test_a_stored_adipose_record_without_a_study_stays_editable(patient, clinician):
    injection = stored(make_injection(patient, clinician, product="adsc", protocol=MICROFRAGMENTED), ENZYMATIC_SVF)
    corrected = services.injection_update(injection=injection, by=clinician, data={"volume_ml": 5}, reason="Typo")
    assert corrected.governance == {}
    assert corrected.protocol == ENZYMATIC_SVF


@pytest.mark.parametrize(
    ("framework", "needs_number"), [("uk_cta", True), ("fda_ind", True), ("hospital_exemption", False)]
)
def test_the_authorisation_number_is_required_when_the_framework_needs_one(patient, clinician, framework, needs_number):
    governance = {k: v for k, v in GOVERNANCE.items() if k != "authorisation_number"}
    governance["regulatory_framework"] = framework
    if needs_number:
        with pytest.raises(ValidationError) as caught:
            make_injection(
                patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=governance
            )
        assert "number: this framework needs one" in " ".join(caught.value.message_dict["governance"])
    else:
        injection = make_injection(
            patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=governance
        )
        assert injection.governance["regulatory_framework"] == framework


# --- Derived values shown -------------------------------------------------------------------------------------------

PRP_COUNTED = {
    **PRP,
    "platelet_count": 1200,
    "blood_platelet_count": 250,
    "prp_volume_ml": 5,
    "wbc_count": 0.5,
    "rbc_count": 0.02,
    "blood_count_method": "analyser",
    "prp_count_method": "analyser",
}


def test_the_injection_page_shows_derived_values_with_units_and_formula(client, patient, clinician):
    injection = make_injection(patient, clinician, product="prp", protocol=PRP_COUNTED, volume_ml=5)
    client.force_login(clinician)
    page = client.get(reverse("registry:injection-detail", args=[injection.pk])).text
    assert "Derived values" in page
    assert '<dt>Platelet dose</dt><dd>6 ×10⁹ <span class="muted">(×10³/µL × mL ÷ 1000)</span>' in page
    assert "<dt>DEPA</dt><dd>ABA, not activated" in page
    assert "<dt>PAW</dt><dd>P3" in page


def test_the_api_gives_derived_values_read_only(api_as, patient, clinician):
    injection = make_injection(patient, clinician, product="prp", protocol=PRP_COUNTED, volume_ml=5)
    body = api_as(clinician).get(f"/api/v1/injections/{injection.pk}/").json()
    assert body["derived"]["platelet_dose"] == {
        "label": "Platelet dose",
        "value": 6.0,
        "unit": "×10⁹",
        "formula": "×10³/µL × mL ÷ 1000",
        "warning": "",
    }
    assert body["derived"]["concentration_factor"]["value"] == 4.8
    assert body["derived"]["plra"]["value"] == "P 1,200,000/µL, L−, R+, A no"


def test_an_injection_date_moved_past_the_lot_expiry_is_refused(patient, clinician):
    injection = exosome(patient, clinician, lot_expiry_on="2026-04-01")
    with pytest.raises(ValidationError):
        services.injection_update(
            injection=injection, by=clinician, data={"injected_on": dt.date(2026, 4, 2)}, reason="Date typo"
        )

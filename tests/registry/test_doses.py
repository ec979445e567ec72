"""Derived values (registry.doses) against hand computation, with each classification at its category boundaries:
total TNC, platelet dose, concentration factor, platelet recovery and purity, DEPA (Magalon 2016), PAW (DeLong
2012), PLRA (Mautner 2015), EV dose cross-check and particle-to-protein ratio."""

from decimal import Decimal

import pytest

from registry import doses

D = Decimal


# --- Totals and doses ---------------------------------------------------------------------------------------------


def test_total_tnc_is_concentration_times_volume():
    # 35.5 ×10⁶/mL × 6 mL = 213 ×10⁶ cells
    assert doses.total_cells_millions(35.5, D("6.0")) == D("213")
    assert doses.total_cells_millions(None, 6) is None
    assert doses.total_cells_millions(35.5, None) is None


def test_platelet_dose_in_billions():
    # 1,200 ×10³/µL = 1.2 ×10⁹/mL; × 5 mL = 6 ×10⁹
    assert doses.platelet_dose_billions(1200, 5) == D("6")
    # 450 ×10³/µL × 4 mL = 1.8 ×10⁹
    assert doses.platelet_dose_billions(450, 4) == D("1.8")


def test_concentration_factor():
    assert doses.concentration_factor(1200, 250) == D("4.8")  # PRP / whole blood
    assert doses.concentration_factor(120, 30) == D("4")  # BMAC TNC / aspirate TNC
    assert doses.concentration_factor(1200, 0) is None


def test_platelet_recovery_and_purity():
    # (1,200 × 5 mL) / (250 × 30 mL) = 6,000 / 7,500 = 80 %
    assert doses.platelet_recovery_percent(1200, 5, 250, 30) == D("80")
    # 1,200 / (1,200 + 0.5 + 0.02 ×10⁶/µL = 20 ×10³/µL) = 1,200 / 1,220.5
    assert doses.platelet_purity_percent(1200, D("0.5"), D("0.02")) == 100 * D(1200) / D("1220.5")


def test_exosome_dose_and_particle_protein_ratio():
    assert doses.exosome_dose_particles(1e11, 2) == D("2E11")
    assert doses.particles_per_ug(1e11, 50) == D("2E9")
    assert doses.particles_per_ug(1e11, 0) is None


def test_g_minutes():
    assert doses.g_minutes(1500, 10) == 15_000


# --- DEPA ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billions", "category"),
    [("5.01", "A"), ("5", "B"), ("3", "B"), ("2.99", "C"), ("1", "C"), ("0.99", "D"), ("0", "D")],
)
def test_depa_dose_boundaries(billions, category):
    assert doses.depa_dose(D(billions)) == category


@pytest.mark.parametrize(
    ("percent", "category"),
    [("90.01", "A"), ("90", "B"), ("70", "B"), ("69.99", "C"), ("30", "C"), ("29.99", "D")],
)
def test_depa_efficiency_and_purity_boundaries(percent, category):
    assert doses.depa_percent(D(percent)) == category


def test_depa_code_from_counts():
    # dose 6 ×10⁹ (A), recovery 80 % (B), purity 98.3 % (A), activated with calcium chloride
    purity = doses.platelet_purity_percent(1200, D("0.5"), D("0.02"))
    code = doses.depa_code(dose_billions=D(6), efficiency_percent=D(80), purity_percent=purity, activated=True)
    assert code == "ABA, activated"
    assert doses.depa_code(dose_billions=D("0.5"), efficiency_percent=None, purity_percent=None, activated=None) == (
        "D??, not recorded"
    )


# --- PAW ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prp", "baseline", "category"),
    [
        (250, 250, "P1"),  # at baseline
        (251, 250, "P2"),
        (750, 250, "P2"),
        (751, 250, "P3"),
        (1250, 250, "P3"),
        (1251, 250, "P4"),
        (200, 250, "P1"),  # below baseline
    ],
)
def test_paw_platelet_boundaries(prp, baseline, category):
    assert doses.paw_platelets(prp, baseline) == category


def test_paw_code_with_activation_white_cells_and_neutrophils():
    code = doses.paw_code(
        prp_platelets=900,
        blood_platelets=250,
        activated=True,
        prp_leucocytes=12,
        blood_leucocytes=6,
        prp_neutrophils=3,
        blood_neutrophils=4,
    )
    assert code == "P3-x-Aβ"
    # white cells at baseline are B; neutrophils above baseline α; not activated: no x
    code = doses.paw_code(
        prp_platelets=600,
        blood_platelets=250,
        activated=False,
        prp_leucocytes=6,
        blood_leucocytes=6,
        prp_neutrophils=5,
        blood_neutrophils=4,
    )
    assert code == "P2-Bα"
    assert doses.paw_code(prp_platelets=600, blood_platelets=None, activated=False) is None


# --- PLRA --------------------------------------------------------------------------------------------------------


def test_plra_code_from_counts():
    # leucocytes 0.5 of 1,220.5 ×10³/µL = 0.04 % (−); red cells 20 of 1,220.5 = 1.6 % (+)
    code = doses.plra_code(platelets=1200, leucocytes=D("0.5"), red_cells=D("0.02"), activated=False)
    assert code == "P 1,200,000/µL, L−, R+, A no"


def test_plra_one_percent_is_negative_and_just_above_is_positive():
    # 98 + 1 + 1 (0.001 ×10⁶/µL) = 100 ×10³/µL: leucocytes and red cells exactly 1 % each
    assert doses.plra_code(platelets=98, leucocytes=1, red_cells=D("0.001"), activated=True) == (
        "P 98,000/µL, L−, R−, A yes"
    )
    # 1.02 of 100.02 = 1.0198 %: positive; neutrophils 0.51 of 1.02 = 50 %
    code = doses.plra_code(
        platelets=98, leucocytes=D("1.02"), red_cells=D("0.001"), activated=True, neutrophils=D("0.51")
    )
    assert code == "P 98,000/µL, L+ (neutrophils 50 %), R−, A yes"


# --- What a record yields ----------------------------------------------------------------------------------------

PRP = {
    "platelet_count": 1200,
    "blood_platelet_count": 250,
    "blood_volume_ml": 30,
    "prp_volume_ml": 5,
    "wbc_count": 0.5,
    "rbc_count": 0.02,
    "blood_wbc_count": 6,
    "activation": "none",
}


def test_a_prp_record_yields_dose_factor_recovery_purity_and_codes():
    derived = {d.code: d for d in doses.derived_values("prp", PRP, D("5.0"))}
    assert derived["platelet_dose"].value == D("6")
    assert derived["platelet_dose"].display == "6 ×10⁹"
    assert derived["concentration_factor"].value == D("4.8")
    assert derived["platelet_recovery"].value == D("80")
    assert derived["platelet_purity"].display == "98.3 %"
    assert derived["depa"].value == "ABA, not activated"
    assert derived["paw"].value == "P3-B"
    assert derived["plra"].value == "P 1,200,000/µL, L−, R+, A no"


def test_a_bmac_record_yields_totals_factor_and_g_minutes():
    protocol = {
        "tnc_per_ml": 120,
        "aspirate_tnc_per_ml": 30,
        "mnc_per_ml": 40,
        "first_spin_g": 800,
        "first_spin_minutes": 12,
    }
    derived = {d.code: d.value for d in doses.derived_values("bmac", protocol, D("4"))}
    assert derived == {
        "total_tnc": D(480),
        "total_mnc": D(160),
        "concentration_factor": D(4),
        "first_spin_g_minutes": D(9600),
    }


@pytest.mark.parametrize(("entered", "warned"), [(2e11, False), (2.2e11, False), (1.8e11, False), (2.21e11, True)])
def test_the_exosome_dose_entered_is_checked_against_concentration_times_volume(entered, warned):
    protocol = {"particle_concentration": 1e11, "dose_particles": entered, "protein_ug_per_ml": 50}
    derived = {d.code: d for d in doses.derived_values("exosome", protocol, D("2"))}
    assert derived["particle_dose"].value == D("2E11")
    assert bool(derived["particle_dose"].warning) is warned
    if warned:
        assert "differs from concentration × volume by 10.5 % (more than 10 %)" in derived["particle_dose"].warning
    assert derived["particles_per_ug"].value == D("2E9")


def test_nothing_is_derived_without_the_counts():
    assert doses.derived_values("prp", {"spins": 2}, 5) == []
    assert doses.derived_values("ha", {"dose_mg": 40}, 2) == []
    assert doses.derived_values("bmac", None, 2) == []


def test_an_unprocessed_marrow_aspirate_is_named_bma():
    assert doses.product_label("bmac", {"processing_method": "unprocessed"}) == doses.BMA_LABEL
    assert doses.product_label("bmac", {"processing_method": "centrifugation"}).startswith("BMAC")

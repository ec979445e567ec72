"""Values derived from a product's protocol record and the volume injected: computed, never typed twice.

Pure functions (no database): each takes the counts in the units the protocol forms use (registry.plausibility's
table) and returns a Decimal, a category or None when an input is missing. ``derived_values(product, protocol,
volume_ml)`` lists what a record yields for display (injection page, API ``derived``, exports); it takes a
product, a protocol and a volume rather than an injection so it can be called for each component of a combined
injection.

Units: platelet, leucocyte and neutrophil counts ×10³/µL (= ×10⁶/mL); red cells ×10⁶/µL; nucleated cells
×10⁶/mL; volumes mL; EV particles per mL and protein µg/mL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from registry.choices import Product
from registry.plausibility import as_decimal, number

Num = Decimal | int | float | str | None

BMA_LABEL = "BMA (unprocessed bone marrow aspirate)"


def _d(value: Num) -> Decimal | None:
    return None if value is None else as_decimal(value)


def _all(*values: Num) -> list[Decimal] | None:
    out = [_d(v) for v in values]
    return None if any(v is None for v in out) else out


# --- Doses and totals ---------------------------------------------------------------------------------------------


def total_cells_millions(per_ml: Num, volume_ml: Num) -> Decimal | None:
    """Cells injected, ×10⁶ = concentration (×10⁶/mL) × volume injected (mL). Used for total TNC and total MNC
    (standards.md §8.2: TNC/MNC per mL and injected volume are the fields a BMAC report needs)."""
    values = _all(per_ml, volume_ml)
    return None if values is None else values[0] * values[1]


def platelet_dose_billions(platelets_k_per_ul: Num, volume_ml: Num) -> Decimal | None:
    """Platelets injected, ×10⁹ (billions) = count (×10³/µL, which is ×10⁶/mL) × volume (mL) / 1000.
    Magalon 2016 (DEPA, BMJ Open Sport Exerc Med 2:e000060): the dose of injected platelets."""
    values = _all(platelets_k_per_ul, volume_ml)
    return None if values is None else values[0] * values[1] / 1000


def concentration_factor(product_count: Num, baseline_count: Num) -> Decimal | None:
    """How many times the preparation concentrates a count = count in the product / count in the source (PRP
    platelets / whole-blood platelets; BMAC TNC / aspirate TNC), same units on both sides."""
    values = _all(product_count, baseline_count)
    if values is None or values[1] == 0:
        return None
    return values[0] / values[1]


def platelet_recovery_percent(prp_platelets: Num, prp_volume_ml: Num, blood_platelets: Num, blood_volume_ml: Num):
    """Efficiency of production (DEPA "E", Magalon 2016) = platelets recovered in the PRP / platelets in the blood
    drawn × 100 = (PRP count × PRP volume) / (blood count × blood volume) × 100."""
    values = _all(prp_platelets, prp_volume_ml, blood_platelets, blood_volume_ml)
    if values is None or values[2] * values[3] == 0:
        return None
    return 100 * values[0] * values[1] / (values[2] * values[3])


def _percent_of_cells(part: Decimal, platelets: Decimal, leucocytes: Decimal, red_cells_m: Decimal) -> Decimal | None:
    total = platelets + leucocytes + red_cells_m * 1000  # red cells ×10⁶/µL -> ×10³/µL
    return None if total == 0 else 100 * part / total


def platelet_purity_percent(platelets: Num, leucocytes: Num, red_cells: Num) -> Decimal | None:
    """Purity (DEPA "P", Magalon 2016) = platelets / (platelets + leucocytes + red cells) × 100, all per µL
    (platelets and leucocytes ×10³/µL, red cells ×10⁶/µL)."""
    values = _all(platelets, leucocytes, red_cells)
    return None if values is None else _percent_of_cells(values[0], *values)


def exosome_dose_particles(particles_per_ml: Num, volume_ml: Num) -> Decimal | None:
    """EV particles injected = particle concentration (particles/mL) × volume injected (mL)."""
    values = _all(particles_per_ml, volume_ml)
    return None if values is None else values[0] * values[1]


def particles_per_ug(particles_per_ml: Num, protein_ug_per_ml: Num) -> Decimal | None:
    """Particle-to-protein ratio (particles/µg) = particles per mL / protein µg per mL: MISEV2018/2023's purity
    estimate from two quantification methods (standards.md §8.3)."""
    values = _all(particles_per_ml, protein_ug_per_ml)
    if values is None or values[1] == 0:
        return None
    return values[0] / values[1]


DOSE_TOLERANCE = Decimal("0.10")


def dose_disagreement(calculated: Num, entered: Num) -> Decimal | None:
    """Relative difference |entered − calculated| / calculated (0.1 = 10 %); the record is flagged above 10 %."""
    values = _all(calculated, entered)
    if values is None or values[0] == 0:
        return None
    return abs(values[1] - values[0]) / values[0]


def g_minutes(g_force: Num, minutes: Num) -> Decimal | None:
    """A spin's g × minutes = relative centrifugal force (×g) × duration (min): comparable across centrifuges,
    unlike rpm."""
    values = _all(g_force, minutes)
    return None if values is None else values[0] * values[1]


# --- PRP classifications -------------------------------------------------------------------------------------------


def depa_dose(billions: Num) -> str | None:
    """DEPA dose of injected platelets (Magalon 2016, Table 1): A very high > 5 ×10⁹; B high 3–5 ×10⁹; C medium
    1–3 ×10⁹ (3 itself is B, 1 itself is C); D low < 1 ×10⁹."""
    d = _d(billions)
    if d is None:
        return None
    return "A" if d > 5 else "B" if d >= 3 else "C" if d >= 1 else "D"


def depa_percent(percent: Num) -> str | None:
    """DEPA efficiency (% platelet recovery) and purity (% platelets among platelets, leucocytes and red cells),
    Magalon 2016, Table 1: A > 90 %; B 70–90 % (90 and 70 themselves are B); C 30–70 % (30 is C); D < 30 %."""
    d = _d(percent)
    if d is None:
        return None
    return "A" if d > 90 else "B" if d >= 70 else "C" if d >= 30 else "D"


def depa_code(*, dose_billions: Num, efficiency_percent: Num, purity_percent: Num, activated: bool | None) -> str:
    """DEPA as reported: the D, E and P letters ("?" where the counts to compute one are missing) and whether the
    PRP was activated ("A": Magalon 2016 records the activation, it does not grade it)."""
    letters = [depa_dose(dose_billions), depa_percent(efficiency_percent), depa_percent(purity_percent)]
    activation = "not recorded" if activated is None else "activated" if activated else "not activated"
    return f"{''.join(letter or '?' for letter in letters)}, {activation}"


def paw_platelets(prp_platelets: Num, blood_platelets: Num) -> str | None:
    """PAW platelet category (DeLong 2012, Arthroscopy 28:998): P1 ≤ baseline (whole blood); P2 > baseline to
        750 ×10³/µL; P3 > 750 to 1,250 ×10³/µL; P4 > 1,250 ×10³/µL (each upper bound inclusive). With a baseline
    above 750, a count above it is P3 or P4 by the absolute bounds."""
    values = _all(prp_platelets, blood_platelets)
    if values is None:
        return None
    prp, baseline = values
    if prp <= baseline:
        return "P1"
    return "P2" if prp <= 750 else "P3" if prp <= 1250 else "P4"


def paw_code(
    *,
    prp_platelets: Num,
    blood_platelets: Num,
    activated: bool | None,
    prp_leucocytes: Num = None,
    blood_leucocytes: Num = None,
    prp_neutrophils: Num = None,
    blood_neutrophils: Num = None,
) -> str | None:
    """PAW code (DeLong 2012): platelets P1–P4 (paw_platelets); "x" when activated exogenously; white cells A
    above baseline, B at or below it; neutrophils α above baseline, β at or below it. E.g. "P2-x-Bβ"."""
    platelets = paw_platelets(prp_platelets, blood_platelets)
    if platelets is None:
        return None
    parts = [platelets]
    if activated:
        parts.append("x")
    leucocytes = _all(prp_leucocytes, blood_leucocytes)
    if leucocytes is not None:
        white = "A" if leucocytes[0] > leucocytes[1] else "B"
        neutrophils = _all(prp_neutrophils, blood_neutrophils)
        if neutrophils is not None:
            white += "α" if neutrophils[0] > neutrophils[1] else "β"
        parts.append(white)
    return "-".join(parts)


def plra_code(
    *, platelets: Num, leucocytes: Num, red_cells: Num, activated: bool | None, neutrophils: Num = None
) -> str | None:
    """PLRA code (Mautner 2015, PM R 7:S53): P the platelet count (per µL); L "+" when leucocytes are more than
    1 % of the cells, "−" otherwise, with the neutrophil share of leucocytes when counted; R "+" when red cells
    are more than 1 % of the cells; A whether activated. Exactly 1 % reads as "−" (the source's "+" is ">1 %").
    The cells: platelets + leucocytes + red cells, as for DEPA purity."""
    values = _all(platelets, leucocytes, red_cells)
    if values is None:
        return None
    plt, wbc, rbc = values
    leucocyte_share = _percent_of_cells(wbc, plt, wbc, rbc)
    red_share = _percent_of_cells(rbc * 1000, plt, wbc, rbc)
    if leucocyte_share is None or red_share is None:
        return None
    count = f"{int(plt * 1000):,}/µL"
    l_part = "L+" if leucocyte_share > 1 else "L−"
    n = _d(neutrophils)
    if n is not None and wbc:
        l_part += f" (neutrophils {number(round(100 * n / wbc))} %)"
    activation = "not recorded" if activated is None else "yes" if activated else "no"
    return f"P {count}, {l_part}, {'R+' if red_share > 1 else 'R−'}, A {activation}"


# --- What a record yields -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    code: str  # stable key: API and export column
    label: str
    value: Decimal | str
    unit: str
    formula: str  # a hint of how it is computed
    warning: str = ""

    @property
    def display(self) -> str:
        value = number(_rounded(self.value)) if isinstance(self.value, Decimal) else self.value
        return f"{value} {self.unit}".strip()


def _rounded(value: Decimal) -> Decimal:
    """Three significant figures, as counts are measured (large values keep their power of ten)."""
    if value == 0:
        return value
    return Decimal(f"{value:.3g}") if abs(value) < 10**8 else value


def _activated(protocol: dict) -> bool | None:
    activation = protocol.get("activation")
    return None if not activation else activation != "none"


def _bmac(p: dict, volume) -> list[Derived]:
    out = []
    for key, name in (("tnc_per_ml", "TNC"), ("mnc_per_ml", "MNC")):
        total = total_cells_millions(p.get(key), volume)
        if total is not None:
            out.append(
                Derived(f"total_{name.lower()}", f"Total {name} injected", total, "×10⁶", f"{name} ×10⁶/mL × mL")
            )
    factor = concentration_factor(p.get("tnc_per_ml"), p.get("aspirate_tnc_per_ml"))
    if factor is not None:
        out.append(Derived("concentration_factor", "Concentration factor (TNC)", factor, "×", "concentrate / aspirate"))
    for spin in ("first", "second"):
        gm = g_minutes(p.get(f"{spin}_spin_g"), p.get(f"{spin}_spin_minutes"))
        if gm is not None:
            out.append(Derived(f"{spin}_spin_g_minutes", f"{spin.capitalize()} spin", gm, "×g·min", "g × minutes"))
    return out


def _prp(p: dict, volume) -> list[Derived]:
    out = []
    dose = platelet_dose_billions(p.get("platelet_count"), volume)
    if dose is not None:
        out.append(Derived("platelet_dose", "Platelet dose", dose, "×10⁹", "×10³/µL × mL ÷ 1000"))
    factor = concentration_factor(p.get("platelet_count"), p.get("blood_platelet_count"))
    if factor is not None:
        out.append(Derived("concentration_factor", "Concentration factor (platelets)", factor, "×", "PRP / blood"))
    recovery = platelet_recovery_percent(
        p.get("platelet_count"), p.get("prp_volume_ml"), p.get("blood_platelet_count"), p.get("blood_volume_ml")
    )
    if recovery is not None:
        formula = "PRP count × PRP mL ÷ (blood count × blood mL)"
        out.append(Derived("platelet_recovery", "Platelet recovery", recovery, "%", formula))
    purity = platelet_purity_percent(p.get("platelet_count"), p.get("wbc_count"), p.get("rbc_count"))
    if purity is not None:
        out.append(Derived("platelet_purity", "Platelet purity", purity, "%", "platelets ÷ (platelets + WBC + RBC)"))
    if dose is not None:
        code = depa_code(
            dose_billions=dose, efficiency_percent=recovery, purity_percent=purity, activated=_activated(p)
        )
        out.append(Derived("depa", "DEPA", code, "", "Magalon 2016: dose, efficiency, purity, activation"))
    paw = paw_code(
        prp_platelets=p.get("platelet_count"),
        blood_platelets=p.get("blood_platelet_count"),
        activated=_activated(p),
        prp_leucocytes=p.get("wbc_count"),
        blood_leucocytes=p.get("blood_wbc_count"),
        prp_neutrophils=p.get("neutrophil_count"),
        blood_neutrophils=p.get("blood_neutrophil_count"),
    )
    if paw is not None:
        out.append(Derived("paw", "PAW", paw, "", "DeLong 2012: platelets, activation, white cells"))
    plra = plra_code(
        platelets=p.get("platelet_count"),
        leucocytes=p.get("wbc_count"),
        red_cells=p.get("rbc_count"),
        activated=_activated(p),
        neutrophils=p.get("neutrophil_count"),
    )
    if plra is not None:
        out.append(Derived("plra", "PLRA", plra, "", "Mautner 2015: platelets, leucocytes, red cells, activation"))
    return out


def _exosome(p: dict, volume) -> list[Derived]:
    out = []
    dose = exosome_dose_particles(p.get("particle_concentration"), volume)
    if dose is not None:
        disagreement = dose_disagreement(dose, p.get("dose_particles"))
        warning = ""
        if disagreement is not None and disagreement > DOSE_TOLERANCE:
            warning = (
                f"The dose entered ({number(_d(p['dose_particles']))} particles) differs from concentration × volume "
                f"by {100 * disagreement:.1f} % (more than 10 %): check the concentration, the volume or the dose."
            )
        out.append(Derived("particle_dose", "Particle dose", dose, "particles", "particles/mL × mL", warning))
    ratio = particles_per_ug(p.get("particle_concentration"), p.get("protein_ug_per_ml"))
    if ratio is not None:
        out.append(
            Derived("particles_per_ug", "Particles per µg protein", ratio, "particles/µg", "particles/mL ÷ µg/mL")
        )
    return out


_BY_PRODUCT = {Product.BMAC: _bmac, Product.PRP: _prp, Product.EXOSOME: _exosome}


def derived_values(product: str, protocol: dict | None, volume_ml: Num) -> list[Derived]:
    """What one product's protocol and the volume injected yield, in display order (empty when nothing can be
    computed from what was recorded)."""
    compute = _BY_PRODUCT.get(product)
    if compute is None or not isinstance(protocol, dict):
        return []
    return compute(protocol, _d(volume_ml))


def product_label(product: str, protocol: dict | None) -> str:
    """The product's name as a report should give it: an unprocessed bone marrow aspirate is BMA, not BMAC."""
    if product == Product.BMAC and (protocol or {}).get("processing_method") == "unprocessed":
        return BMA_LABEL
    return str(Product(product).label) if product in Product.values else product

"""Plausible ranges of the numeric protocol fields: one table, with the unit and the reason for each limit.

The protocol forms (registry.protocols) take their limits, units and help text from it, so the web form, the admin,
the API and ``Injection.clean()`` agree; the API schema's description of ``protocol`` lists it too.

- A value outside the **hard** limits is refused: it cannot be true (more cells than a millilitre of packed cells
  holds, a viability over 100 %), and is almost always a unit slip (cells per mL typed into a field counted in
  millions per mL: the message then says what the value would be in the field's unit).
- A value outside the **soft** limits is unusual but possible: it is saved only once the person confirms it
  (the web form's checkbox, ``acknowledged_warnings`` in the API, the admin's tick box); the audit row says so.

Values stored before a limit existed are never changed. A correction judges only the values it changes: a value
kept as stored is not asked about again if it is merely unusual, and if the hard limits would now refuse it, it
is shown as a warning to confirm (or correct), so the record stays editable and the value gets looked at.

To add a limit (a later issue will), add a row; a numeric protocol field without a row fails at start-up.

``AT_MOST`` holds the rules between two fields: a part is never more than the whole it comes from (MNC are some
of the nucleated cells, the concentrate and the injection are made from the aspirate). They refuse, field by field,
whatever the entry point; like the limits, they judge only a correction that changes one of the two values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from registry.choices import Product

Number = int | float | Decimal


@dataclass(frozen=True)
class PlausibleRange:
    product: str
    field: str
    unit: str  # shown next to the field and in every message
    hard: tuple[Number, Number]  # refused outside (inclusive bounds)
    soft: tuple[Number, Number]  # asks for confirmation outside
    reason: str  # where the limits come from

    @property
    def code(self) -> str:
        """How a client names this field's warning when it confirms it (``acknowledged_warnings``)."""
        return f"protocol.{self.field}"

    def describe(self) -> str:
        low, high = self.soft
        return (
            f"Usually {number(low)}–{number(high)} {self.unit}: outside that you are asked to confirm the value. "
            f"Refused outside {number(self.hard[0])}–{number(self.hard[1])} {self.unit}."
        )


R = PlausibleRange
BMAC, PRP, HA, EXO, ADSC, STEROID = (
    Product.BMAC,
    Product.PRP,
    Product.HA,
    Product.EXOSOME,
    Product.ADSC,
    Product.CORTICOSTEROID,
)
RANGES: tuple[PlausibleRange, ...] = (
    # --- BMAC ---
    R(BMAC, "aspiration_pulls", "pulls", (1, 50), (1, 20),
      "A harvest is a few pulls of 1–10 mL from one or two sites; over 20 is unusual, over 50 not one harvest."),
    R(BMAC, "aspirate_volume_ml", "mL", (1, 500), (10, 240),
      "Knee BMAC protocols aspirate about 30–120 mL (most kits 60 mL); over 500 mL is more than a blood donation."),
    R(BMAC, "spins", "spins", (0, 5), (0, 2),
      "Point-of-care marrow concentration systems spin once or twice (none for an unprocessed aspirate)."),
    R(BMAC, "spin_minutes", "min", (0, 120), (0, 40),
      "A spin takes about 10–15 minutes; over 40 minutes in all is unusual, over 2 hours not a point-of-care spin."),
    R(BMAC, "concentrate_volume_ml", "mL", (Decimal("0.1"), 200), (1, 30),
      "Kits concentrate to about 3–10 mL for a knee (and never more than the aspirate: checked separately)."),
    R(BMAC, "tnc_per_ml", "×10⁶/mL", (Decimal("0.1"), 2000), (1, 500),
      "Reported BMAC holds about 1–500 ×10⁶ nucleated cells/mL (blood 4–11). A millilitre of packed nucleated "
      "cells holds about 2,000–3,000 ×10⁶: more is impossible, usually cells per mL typed as ×10⁶/mL."),
    R(BMAC, "mnc_per_ml", "×10⁶/mL", (Decimal("0.01"), 2000), (Decimal("0.1"), 100),
      "Mononuclear cells are a part of the nucleated cells: up to about 100 ×10⁶/mL in reported BMAC; the same "
      "packed-cell ceiling as TNC."),
    R(BMAC, "cfu_f_per_ml", "/mL", (0, 1_000_000), (0, 10_000),
      "Colony-forming units are about 1 in 10⁴–10⁵ nucleated cells: up to about 10⁴/mL in BMAC; even packed "
      "cells would give under 10⁶/mL."),
    R(BMAC, "needle_gauge", "G", (6, 22), (8, 15),
      "Marrow aspiration needles are 8–15 G (11 G the commonest); finer than 22 G cannot draw marrow."),
    R(BMAC, "ml_per_pull", "mL", (Decimal("0.1"), 60), (1, 10),
      "Pulls of about 1–10 mL (smaller pulls are less diluted by blood: standards.md §8.2, Epah 2023); a 60 mL "
      "syringe is the largest."),
    R(BMAC, "first_spin_g", "×g", (1, 10_000), (100, 3_000),
      "Point-of-care spins run at about 200–2,000 ×g; tube centrifuges do not reach 10,000 ×g (rpm typed as ×g?)."),
    R(BMAC, "first_spin_minutes", "min", (1, 60), (2, 20), "A point-of-care spin takes about 4–15 minutes."),
    R(BMAC, "second_spin_g", "×g", (1, 10_000), (100, 3_000),
      "Point-of-care spins run at about 200–2,000 ×g; tube centrifuges do not reach 10,000 ×g (rpm typed as ×g?)."),
    R(BMAC, "second_spin_minutes", "min", (1, 60), (2, 20), "A point-of-care spin takes about 4–15 minutes."),
    R(BMAC, "aspirate_tnc_per_ml", "×10⁶/mL", (Decimal("0.1"), 2000), (5, 100),
      "Marrow aspirate holds about 10–60 ×10⁶ nucleated cells/mL (closed-tip needles 28.6–33.5: standards.md "
      "§8.2; blood 4–11); the packed-cell ceiling as for TNC."),
    R(BMAC, "cd34_per_ml", "×10⁶/mL", (0, 200), (0, 10),
      "CD34+ cells are about 0.5–3 % of BMAC's nucleated cells: up to about 10 ×10⁶/mL (never more than the TNC: "
      "checked separately)."),
    R(BMAC, "viability_percent", "%", (0, 100), (70, 100),
      "A percentage; fresh marrow cells are usually over 90 % viable, cell products released at 70 % or more."),
    R(BMAC, "harvest_to_injection_minutes", "min", (0, 1440), (5, 180),
      "Point-of-care BMAC is injected within about 1–2 hours of the harvest; over a day is not point-of-care."),
    R(BMAC, "ia_anaesthetic_volume_ml", "mL", (0, 30), (0, 10),
      "A few mL of local anaesthetic into the knee; more than 10 mL is unusual (and toxic to cells), 30 mL fills "
      "the joint."),
    # --- PRP ---
    R(PRP, "blood_volume_ml", "mL", (1, 500), (8, 180),
      "PRP kits draw about 10–60 mL of blood (a few up to 180 mL); over 500 mL is more than a blood donation."),
    R(PRP, "spins", "spins", (1, 5), (1, 2), "PRP systems spin once or twice."),
    R(PRP, "platelet_count", "×10³/µL", (1, 20_000), (100, 5_000),
      "Whole blood has 150–450 ×10³/µL and PRP usually 2–8 times that: about 100–5,000. Centrifugation cannot "
      "reach 20,000: usually platelets per µL typed as ×10³/µL."),
    R(PRP, "prp_volume_ml", "mL", (Decimal("0.5"), 200), (2, 20),
      "Kits yield about 3–15 mL of PRP; it cannot be more than the blood drawn (checked separately)."),
    R(PRP, "blood_platelet_count", "×10³/µL", (1, 2_000), (100, 600),
      "Adults have 150–450 ×10³/µL: under 100 or over 600 is thrombocytopenia or thrombocytosis (possible: "
      "check it); over 2,000 is not blood, usually platelets per µL typed as ×10³/µL."),
    R(PRP, "blood_wbc_count", "×10³/µL", (Decimal("0.1"), 500), (3, 15),
      "Adults have 4–11 ×10³ leucocytes/µL; over 500 is not blood."),
    R(PRP, "blood_neutrophil_count", "×10³/µL", (0, 500), (1, 10),
      "Adults have about 2–7.5 ×10³ neutrophils/µL (never more than the leucocytes: checked separately)."),
    R(PRP, "wbc_count", "×10³/µL", (0, 1_000), (0, 60),
      "Leucocyte-poor PRP holds under about 1 ×10³/µL, leucocyte-rich (buffy coat) up to about 30–50."),
    R(PRP, "neutrophil_count", "×10³/µL", (0, 1_000), (0, 40),
      "A part of the PRP's leucocytes (checked separately): up to about 40 ×10³/µL in leucocyte-rich PRP."),
    R(PRP, "rbc_count", "×10⁶/µL", (0, 10), (0, 2),
      "Blood has 4–6 ×10⁶ red cells/µL; plasma-based PRP under 0.1, buffy-coat PRP up to about 1–2; over 10 is "
      "more than packed red cells."),
    # --- Hyaluronic acid ---
    R(HA, "dose_mg", "mg", (Decimal("0.1"), 500), (10, 100),
      "Knee HA products give 10–90 mg an injection (e.g. 20, 30, 48, 60, 88 mg); 500 mg is five times the largest."),
    R(HA, "molecular_weight_kda", "kDa", (10, 100_000), (500, 7_000),
      "Knee HA products run from about 500–730 kDa (hyaluronan) to 6,000–7,000 kDa (hylan G-F 20); cross-linked "
      "gels may state more (confirm it); over 100,000 kDa is usually daltons typed as kDa."),
    R(HA, "concentration_mg_per_ml", "mg/mL", (Decimal("0.1"), 100), (5, 30),
      "Knee HA products hold about 8–30 mg/mL (e.g. 8, 10, 15, 20, 22 mg/mL)."),
    R(HA, "injections_in_course", "injections", (1, 10), (1, 5), "Courses are 1, 3 or 5 weekly injections."),
    # --- Exosomes / extracellular vesicles ---
    R(EXO, "particle_concentration", "particles/mL", (1, 10**15), (10**8, 10**13),
      "Characterised EV products report about 10⁹–10¹² particles/mL (NTA); 10¹⁵/mL would be 100 nm vesicles "
      "packed solid."),
    R(EXO, "size_mode_nm", "nm", (10, 10_000), (30, 300),
      "Small EVs (exosomes) are about 30–150 nm (MISEV2018: small EVs under 200 nm); counting methods cannot size "
      "below about 10 nm, and 10 µm is a cell, not a vesicle."),
    R(EXO, "dose_particles", "particles", (1, 10**16), (10**7, 10**13),
      "Reported intra-articular EV doses are about 10⁸–10¹² particles."),
    R(EXO, "protein_ug_per_ml", "µg/mL", (Decimal("0.001"), 100_000), (1, 10_000),
      "EV preparations hold about 10–1,000 µg protein/mL; 100 mg/mL is more protein than plasma (about 70 mg/mL)."),
    R(EXO, "size_mean_nm", "nm", (10, 10_000), (30, 300),
      "Small EVs are about 30–150 nm (MISEV2018: small EVs under 200 nm); 10 µm is a cell, not a vesicle."),
    R(EXO, "size_d10_nm", "nm", (10, 10_000), (20, 200),
      "The smallest tenth of small EVs is about 40–100 nm by NTA; counting methods cannot size below about 10 nm."),
    R(EXO, "size_d90_nm", "nm", (10, 10_000), (50, 1_000),
      "The largest tenth of an EV preparation is about 150–400 nm by NTA; over 1 µm suggests aggregates or cells."),
    R(EXO, "endotoxin_eu_per_ml", "EU/mL", (0, 100_000), (0, 5),
      "Release limits for injected biologics are usually under 0.5–5 EU/mL (pharmacopoeial limit 5 EU/kg/h); "
      "more must be confirmed."),
    # --- Adipose-derived cells ---
    R(ADSC, "lipoaspirate_volume_ml", "mL", (1, 2000), (10, 500),
      "Micro-fragmented fat takes about 60–150 mL, SVF up to a few hundred mL; over 2 L is a cosmetic liposuction."),
    R(ADSC, "cell_count", "cells", (1, 10**11), (10**5, 10**9),
      "SVF and cultured ADSC doses reported for a knee are about 10⁶–10⁸ cells."),
    R(ADSC, "viability_percent", "%", (0, 100), (70, 100),
      "A percentage; cell products are usually released at 70 % viability or more."),
    # --- Corticosteroid ---
    R(STEROID, "prior_injections_12_months", "injections", (0, 24), (0, 3),
      "Guidance allows about 3–4 injections a year into one knee (at least 3 months apart); more is unusual, over "
      "24 (twice a month) not credible."),
    R(STEROID, "dose_mg", "mg", (Decimal("0.1"), 200), (1, 80),
      "Knee doses: triamcinolone 40 mg (10–80), extended-release triamcinolone 32 mg, methylprednisolone 40–80 mg, "
      "betamethasone 6–12 mg, dexamethasone 4–8 mg."),
)  # fmt: skip

_BY_FIELD = {(r.product, r.field): r for r in RANGES}

# The injection's own "volume injected (mL)" (Injection.volume_ml), beside the protocol's fields.
VOLUME_INJECTED = "volume_ml"


@dataclass(frozen=True)
class AtMost:
    """``part`` is never more than ``whole`` times ``scale`` (the scale turns the whole's unit into the part's)."""

    product: str
    part: str
    whole: str
    scale: int
    reason: str


AT_MOST: tuple[AtMost, ...] = (
    AtMost(BMAC, "concentrate_volume_ml", "aspirate_volume_ml", 1,
           "Concentrate volume cannot exceed the aspirate volume of {whole} mL: the concentrate is made from it."),
    AtMost(BMAC, VOLUME_INJECTED, "aspirate_volume_ml", 1,
           "Volume injected cannot exceed the aspirate volume of {whole} mL: the injection is made from it."),
    AtMost(BMAC, "mnc_per_ml", "tnc_per_ml", 1,
           "MNC cannot exceed the TNC of {whole} ×10⁶/mL: mononuclear cells are some of the nucleated cells."),
    AtMost(BMAC, "cfu_f_per_ml", "tnc_per_ml", 10**6,
           "CFU-F cannot exceed the TNC of {whole} ×10⁶/mL ({limit}/mL): each colony grows from one nucleated cell."),
    AtMost(BMAC, "cfu_f_per_ml", "mnc_per_ml", 10**6,
           "CFU-F cannot exceed the MNC of {whole} ×10⁶/mL ({limit}/mL): each colony grows from one mononuclear "
           "cell."),
    AtMost(PRP, VOLUME_INJECTED, "blood_volume_ml", 1,
           "Volume injected cannot exceed the {whole} mL of blood drawn: PRP is a fraction of that blood."),
    AtMost(BMAC, "cd34_per_ml", "tnc_per_ml", 1,
           "CD34+ cells cannot exceed the TNC of {whole} ×10⁶/mL: they are some of the nucleated cells."),
    AtMost(BMAC, "ml_per_pull", "aspirate_volume_ml", 1,
           "A pull cannot exceed the aspirate volume of {whole} mL: the aspirate is made of the pulls."),
    AtMost(PRP, "prp_volume_ml", "blood_volume_ml", 1,
           "PRP volume cannot exceed the {whole} mL of blood drawn: PRP is a fraction of that blood."),
    AtMost(PRP, "neutrophil_count", "wbc_count", 1,
           "Neutrophils cannot exceed the PRP's {whole} ×10³ leucocytes/µL: they are some of the leucocytes."),
    AtMost(PRP, "blood_neutrophil_count", "blood_wbc_count", 1,
           "Neutrophils cannot exceed the blood's {whole} ×10³ leucocytes/µL: they are some of the leucocytes."),
    AtMost(EXO, "size_d10_nm", "size_d90_nm", 1,
           "D10 cannot exceed the D90 of {whole} nm: a tenth of the particles are below D10, nine tenths below D90."),
)  # fmt: skip


def parts_exceeding(
    product: str, values: dict, *, stored: dict | None = None, injection_level: bool = False
) -> dict[str, str]:
    """{part: why} for each ``AT_MOST`` rule that ``values`` break. ``injection_level``: only the rules about the
    volume injected (the protocol's own form checks the rest); ``stored``: the record as stored, whose unchanged
    pairs are not judged again."""
    found: dict[str, str] = {}
    for rule in AT_MOST:
        if rule.product != product or (VOLUME_INJECTED in (rule.part, rule.whole)) is not injection_level:
            continue
        part, whole = as_decimal(values.get(rule.part)), as_decimal(values.get(rule.whole))
        if part is None or whole is None or part <= whole * rule.scale or rule.part in found:
            continue
        if stored is not None and all(same(stored.get(k), values.get(k)) for k in (rule.part, rule.whole)):
            continue
        found[rule.part] = rule.reason.format(whole=number(whole), limit=number(whole * rule.scale))
    return found


def range_for(product: str, field: str) -> PlausibleRange | None:
    return _BY_FIELD.get((product, field))


def as_decimal(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def number(value: Number) -> str:
    """A limit or value as people read it: 45,000,000; 0.1; 10 to the 9th in superscript."""
    d = as_decimal(value)
    if d is None:
        return str(value)
    if abs(d) >= 10**8:
        mantissa, exponent = f"{d:.2e}".split("e")
        power = "10" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
        return power if float(mantissa) == 1 else f"{float(mantissa):g} × {power}"
    return f"{d.normalize():,f}" if d == d.to_integral_value() else f"{d.normalize():f}"


def _inside(value: Decimal, bounds: tuple[Number, Number]) -> bool:
    return Decimal(str(bounds[0])) <= value <= Decimal(str(bounds[1]))


def _unit_slip(r: PlausibleRange, value: Decimal) -> str:
    """A hint when the value reads as usual once divided by a thousand, a million or a billion."""
    for factor in (10**3, 10**6, 10**9):
        if value and _inside(value / factor, r.soft):
            return f" If it was counted in another unit, {number(value / factor)} {r.unit} would be usual."
    for factor in (10**3, 10**6, 10**9):
        if value and _inside(value / factor, r.hard):
            return (
                f" If it was counted in another unit: in {r.unit} that would be {number(value / factor)}, possible "
                "though unusual."
            )
    return ""


def refusal(r: PlausibleRange, value) -> str | None:
    """Why the hard limits refuse ``value`` (None when they allow it)."""
    d = as_decimal(value)
    if d is None or _inside(d, r.hard):
        return None
    side = "above the possible maximum" if d > Decimal(str(r.hard[1])) else "below the possible minimum"
    limit = r.hard[1] if d > Decimal(str(r.hard[1])) else r.hard[0]
    return f"{number(d)} {r.unit} is {side} of {number(limit)} {r.unit}. {r.reason}{_unit_slip(r, d)}"


@dataclass(frozen=True)
class Warning:
    code: str  # e.g. "protocol.tnc_per_ml": what confirms it
    field: str  # the protocol key
    message: str

    def __str__(self) -> str:
        return self.message


def same(a, b) -> bool:
    """Whether two values are the same number (a typed 45000000 and a stored 45000000.0 are)."""
    da, db = as_decimal(a), as_decimal(b)
    return da == db if da is not None and db is not None else a == b


def warnings(product: str, protocol: dict, *, stored: dict | None = None) -> list[Warning]:
    """What needs confirming before ``protocol`` (already validated) is saved. ``stored``: the record as the
    database holds it (None for a new injection); a value kept as stored is only asked about if the hard limits,
    added since, would refuse it."""
    found = []
    for field, value in (protocol or {}).items():
        r = range_for(product, field)
        d = as_decimal(value)
        if r is None or d is None:
            continue
        if stored is not None and field in stored and same(stored[field], value):
            problem = refusal(r, d)
            if problem:
                found.append(
                    Warning(r.code, field, f"Recorded before this limit existed: {problem} Correct it, or confirm it.")
                )
            continue
        if not _inside(d, r.soft):
            low, high = r.soft
            side = "above" if d > Decimal(str(high)) else "below"
            found.append(
                Warning(
                    r.code,
                    field,
                    f"Unusual: {number(d)} {r.unit} is {side} the usual {number(low)}–{number(high)} {r.unit}. "
                    f"{r.reason} Check it; if it is right, confirm it.",
                )
            )
    return found


__all__ = [
    "AT_MOST",
    "RANGES",
    "AtMost",
    "PlausibleRange",
    "Warning",
    "parts_exceeding",
    "range_for",
    "refusal",
    "warnings",
]

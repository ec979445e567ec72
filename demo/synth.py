"""A realistic synthetic registry, written in bulk: `manage.py seed_demo --injections N`.

Rows are generated in Python in chunks and written with PostgreSQL `COPY` (or `bulk_create` elsewhere), never
through the per-row services, so 100,000 injections take a minute or two instead of hours. What the services
would guarantee is kept by construction and checked where it is cheap:

- protocols are drawn from per-product templates normalised by ``registry.protocols.validate_protocol`` (the
  form the services store), exosomes always with study governance;
- follow-up windows come from ``outcomes.schedule.windows`` and each status is the one its dates imply today
  (scheduled / open / completed / missed, cancelled after a consent withdrawal);
- answers are built as posted form values and turned into stored answers by ``outcomes.questionnaire.parse``
  and scored by ``outcomes.questionnaire.score_all`` (a few hundred distinct answer vectors, scored once and
  reused), so the score columns are exactly what a real submission would store;
- flags come from ``safety.rules.evaluate`` over each submission's safety answers and score changes, with an
  ``Evaluation`` row per submission (so the safety net has nothing to redo);
- sent invitations and pending reminders are outbox rows planned by ``notifications.services.schedule``.

Everything is drawn from one ``random.Random(seed)``: the same seed on the same day gives the same data.
History tables (django-simple-history) are not written: bulk-loaded demo data was never edited by anyone.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import queue
import random
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from demo import selection as demo_selection
from notifications.models import MessageStatus, OutboundMessage
from notifications.services.schedule import message_plan, next_sending_time
from outcomes import questionnaire
from outcomes.instruments import get_instrument
from outcomes.measures import SCORE_COLUMNS
from outcomes.models import (
    FollowUp,
    FollowUpStatus,
    FurtherTreatment,
    FurtherTreatmentKind,
    Submission,
    SubmissionSource,
    Timepoint,
)
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from outcomes.schedule import add_months, windows
from outcomes.services import score_columns
from registry.choices import PRODUCTS_WITH_HARVEST, InjectionStatus, Product, Route
from registry.models import Injection, InjectionComponent, Patient, TreatmentPlan
from registry.protocols import governance_required, validate_governance, validate_protocol
from safety import rules as safety_rules
from safety.choices import FlagStatus
from safety.models import AdverseEvent, Evaluation, Flag
from safety.services import submission_measures

CONSENT_VERSION = "v1.0-synthetic"  # marks the synthetic patients (idempotency and reporting)
CHUNK_PLANS = 4000

# Share of treatment plans per product (issue 8: PRP 35 %, HA 25 %, steroid 15 %, BMAC 15 %, ADSC 4 %,
# exosome 2 %, saline and other the rest).
PRODUCT_WEIGHTS = {
    Product.PRP: 35,
    Product.HA: 25,
    Product.CORTICOSTEROID: 15,
    Product.BMAC: 15,
    Product.ADSC: 4,
    Product.EXOSOME: 2,
    Product.SALINE: 2,
    Product.OTHER: 2,
}
# (probability a plan is staged, injections in a staged plan, days between them)
STAGING = {Product.PRP: (0.4, 3, 28), Product.HA: (0.2, 3, 7)}
KL_WEIGHTS = {0: 2, 1: 10, 2: 35, 3: 38, 4: 15}  # more 2-3
VOLUME_ML = {"prp": 5, "ha": 3, "corticosteroid": 2, "exosome": 2, "adsc": 8, "saline": 10, "other": 4}

# Health on a 0-1 scale (1 = no knee problems) at baseline by KL grade, and the mean gain per product at 1 and
# 6 months, scaled by KL grade: better on average at KL 2 than at KL 3-4; steroid early and fading, BMAC modest.
BASELINE_HEALTH = {0: 0.66, 1: 0.62, 2: 0.55, 3: 0.46, 4: 0.36}
PRODUCT_GAIN = {
    "prp": (0.10, 0.14),
    "ha": (0.07, 0.08),
    "corticosteroid": (0.15, 0.03),
    "bmac": (0.06, 0.08),
    "adsc": (0.08, 0.10),
    "exosome": (0.07, 0.08),
    "saline": (0.04, 0.02),
    "other": (0.04, 0.04),
}
KL_GAIN = {0: 1.2, 1: 1.2, 2: 1.0, 3: 0.6, 4: 0.35}
HEALTH_NOISE = 0.08
HEALTH_LEVELS = 41  # answer vectors are pooled by health level...
VARIANTS = 8  # ...with this many distinct vectors per level

COMPLETION = {
    Timepoint.BASELINE: 0.9,
    Timepoint.DAY_3: 0.75,
    Timepoint.DAY_12: 0.65,
    Timepoint.ONE_MONTH: 0.72,
    Timepoint.SIX_MONTHS: 0.6,
    Timepoint.TWELVE_MONTHS: 0.55,
    Timepoint.TWENTY_FOUR_MONTHS: 0.5,
}
# Further treatment (the FURTHER questions at every follow-up after baseline): the chance that a 12- or 24-month
# answer reports a knee replacement since the last one, by KL grade (worse knees are replaced sooner), and how
# often pain medicine and exercise are reported (option score: weight). The rates sit at the high end of what
# injection cohorts report so that the demo's few dozen 12-month answers still draw a knee-replacement curve.
REPLACEMENT_BY_KL = {0: 0.005, 1: 0.01, 2: 0.03, 3: 0.08, 4: 0.15}
PAIN_MEDICINE = {0: 45, 1: 40, 2: 15}
PHYSIOTHERAPY = {0: 50, 1: 35, 2: 15}
# Safety items: chance of a yes at a follow-up (harvest site for BMAC only).
SAFETY_YES = {
    "swelling": 0.05,
    "redness_heat": 0.015,
    "fever": 0.007,
    "care_gp": 0.03,
    "care_ed": 0.006,
    "hospital_admission": 0.003,
    "harvest_site_problem": 0.05,
    "unable_to_bear_weight": 0.004,
}
# The early safety checks (day 2-3, day 10-14): chance of a yes (harvest site only for products with a harvest).
EARLY_SAFETY_YES = {
    "redness_heat": 0.01,
    "swelling": 0.08,
    "unable_to_bear_weight": 0.004,
    "puncture_site": 0.008,
    "harvest_site_problem": 0.06,
    "fever": 0.005,
    "unwell": 0.03,
    "calf_pain_swelling": 0.003,
    "breathless_chest_pain": 0.001,
    "face_swelling": 0.001,
    "rash_itching": 0.01,
    "numbness": 0.01,
    "hospital_admission": 0.002,
}
# After a steroid: "No", "Yes, higher than usual", "I don't have diabetes" (outcomes/instruments/safety-early-1.json).
BLOOD_GLUCOSE_WEIGHTS = {0: 12, 1: 4, 2: 84}
SAFETY_TEXTS = ("Knee felt stiff for a week.", "Bruising where the needle went in.", "Slept badly for two nights.")
WITHDRAWN_SHARE = 0.02

_REGISTRY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FIRST = ("Anne", "Brian", "Carla", "Dev", "Elena", "Frank", "Grace", "Hamid", "Irene", "Jon", "Kemi", "Luis")
_LAST = ("Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Gupta", "Hughes", "Ito", "Jensen", "Khan")


@functools.lru_cache(maxsize=65536)
def _message_plan(opens_on: dt.date, closes_on: dt.date, safety_check: bool = False) -> tuple[tuple[str, dt.date], ...]:
    # Windows repeat (a few thousand distinct dates), and the schedule reads its settings on every call.
    return tuple(message_plan(opens_on=opens_on, closes_on=closes_on, today=opens_on, safety_check=safety_check))


@functools.lru_cache(maxsize=65536)
def _sending_time(zone: str, day: dt.date) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(zone)
    return next_sending_time(tz=tz, not_before=_at(day, tz, 0), day=day)


class JsonText(str):
    """A value already serialised to JSON: COPY sends it as is, bulk_create decodes it for the JSONField."""


# --- protocols -------------------------------------------------------------------------------------------------


# Issue 15's protocol details, shared with the demo seed (demo/management/commands/seed_demo.py). They are derived
# from values already drawn, not drawn themselves, so every later random draw (and the benchmark) is unchanged.
HA_PRODUCTS = {
    "Ostenil Plus": {"molecular_weight_kda": 1600, "cross_linked": "no", "source": "bacterial",
                     "concentration_mg_per_ml": 20, "injections_in_course": 1},
    "Durolane": {"molecular_weight_kda": 1000, "cross_linked": "yes", "source": "bacterial",
                 "concentration_mg_per_ml": 20, "injections_in_course": 1},
    "Synvisc-One": {"molecular_weight_kda": 6000, "cross_linked": "yes", "source": "avian",
                    "concentration_mg_per_ml": 8, "injections_in_course": 1},
}  # fmt: skip
EXOSOME_RELEASE = {
    "isolation_method": "tff",
    "protein_ug_per_ml": 250,
    "protein_method": "bca",
    "size_mean_nm": 126,
    "size_d10_nm": 78,
    "size_d90_nm": 205,
    "transmembrane_markers": "CD63, CD81, CD9",
    "cytosolic_markers": "TSG101, ALIX",
    "marker_method": "western_blot",
    "sterility": "passed",
    "endotoxin_eu_per_ml": 0.25,
    "mycoplasma": "negative",
    "coa_on_file": "yes",
    "coa_reference": "COA-EV-2026",
    "gmp_status": "gmp",
    "lot_expiry_on": "2099-12-31",  # the seed gives its own, two years ahead
    "storage": "minus_80",
    "donor_source": "allogeneic",
    "donor_screening": "screened",
}


def bmac_details(protocol: dict) -> dict:
    """Needle, spins, counts' methods and timing that fit a drawn BMAC protocol."""
    trocar = "trocar" in protocol["aspiration_device"]
    side_port = protocol["aspiration_device"] == "Marrow Cellution"
    two_spins = protocol["spins"] == 2
    spin = protocol["spin_minutes"] // protocol["spins"]
    return {
        "needle_type": "closed_tip_side_port" if side_port else "trocar",
        "needle_gauge": 8 if trocar else 11,
        "ml_per_pull": 1 if side_port else 5,
        "anticoagulant_ratio": "1:10" if protocol["anticoagulant"] == "acd_a" else "1:7",
        "system_closure": "closed",
        "first_spin_g": 800 if two_spins else 1500,
        "first_spin_minutes": spin,
        **({"second_spin_g": 1800, "second_spin_minutes": spin} if two_spins else {}),
        "aspirate_tnc_per_ml": round(protocol["tnc_per_ml"] / 3, 1),  # a threefold concentration
        "tnc_method": "analyser",
        "harvest_to_injection_minutes": 30 + 3 * protocol["aspiration_pulls"],
        "ia_anaesthetic": "none",
    }


def prp_counts(protocol: dict) -> dict:
    """Whole-blood and PRP counts that fit a drawn PRP protocol: leucocyte-rich PRP keeps the buffy coat (more
    leucocytes, red cells and platelet recovery)."""
    rich = protocol["leukocytes"] == "rich"
    baseline = 240
    recovery = 0.85 if rich else 0.7
    return {
        "blood_platelet_count": baseline,
        "blood_wbc_count": 6.5,
        "blood_neutrophil_count": 4.1,
        "blood_count_method": "analyser",
        "prp_volume_ml": min(
            20, round(protocol["blood_volume_ml"] * recovery * baseline / protocol["platelet_count"], 1)
        ),
        "wbc_count": 14 if rich else 0.3,
        "neutrophil_count": 8.2 if rich else 0.05,
        "rbc_count": 0.6 if rich else 0.01,
        "prp_count_method": "analyser",
    }


def _protocol(rng: random.Random, product: str) -> dict:
    c = rng.choice
    if product == Product.BMAC:
        aspirate = c([30, 60, 90, 120])
        protocol = {
            "harvest_site": c(["posterior_iliac_crest", "anterior_iliac_crest", "proximal_tibia", "distal_femur"]),
            "aspiration_device": c(["11G Jamshidi needle", "Marrow Cellution", "8G trocar"]),
            "aspiration_pulls": rng.randint(4, 12),
            "aspirate_volume_ml": aspirate,
            "anticoagulant": c(["acd_a", "heparin"]),
            "processing_system": c(["Harvest SmartPReP", "Arthrex Angel", "Demo centrifuge kit"]),
            "processing_method": "centrifugation",
            "spins": c([1, 2]),
            "spin_minutes": c([10, 14, 20]),
            "concentrate_volume_ml": round(aspirate / 10, 1),
            "tnc_per_ml": round(rng.uniform(15, 60), 1),
            "anaesthesia": c(["local", "sedation"]),
            "harvest_complication": "none",
        }
        return {**protocol, **bmac_details(protocol)}
    if product == Product.PRP:
        protocol = {
            "leukocytes": c(["poor", "poor", "rich"]),
            "preparation_system": c(["Arthrex ACP", "RegenKit", "Demo PRP kit"]),
            "blood_volume_ml": c([15, 30, 60]),
            "spins": c([1, 2]),
            "platelet_count": c([600, 900, 1200]),
            "activation": c(["none", "none", "calcium_chloride"]),
        }
        return {**protocol, **prp_counts(protocol)}
    if product == Product.HA:
        name = c(["Ostenil Plus", "Durolane", "Synvisc-One"])
        c(["low", "medium", "high", "cross_linked"])  # was the molecular weight class: kept so the draws stay the same
        return {"product_name": name, **HA_PRODUCTS[name], "dose_mg": c([40, 60, 88])}
    if product == Product.CORTICOSTEROID:
        drug = c(["triamcinolone_acetonide", "methylprednisolone_acetate", "triamcinolone_er"])
        return {
            "drug": drug,
            "formulation": "extended_release" if drug == "triamcinolone_er" else "suspension",
            "dose_mg": c([40, 80]),
            "local_anaesthetic": c(["Lidocaine 1% 2 mL", ""]),
            "prior_injections_12_months": 0,
        }
    if product == Product.EXOSOME:
        return {
            "source_material": c(["umbilical_cord_msc", "bone_marrow_msc", "placental"]),
            "manufacturer": "Example Bio Ltd",
            "batch_lot": f"EV-2026-{rng.randint(1, 60):03d}",
            "particle_concentration": 1e11,
            "sizing_method": "nta",
            "size_mode_nm": c([105, 118, 131]),
            "negative_markers": "calnexin",
            "dose_particles": c([1e10, 2e10]),
            **EXOSOME_RELEASE,
        }
    if product == Product.ADSC:
        return {
            "preparation": c(["svf", "microfragmented"]),
            "harvest_site": c(["abdomen", "thigh", "flank"]),
            "lipoaspirate_volume_ml": c([60, 100, 150]),
            "processing": c(["enzymatic", "mechanical"]),
            "viability_percent": c([82, 88, 93]),
            "viability_method": "trypan_blue",
        }
    if product == Product.SALINE:
        return {"purpose": c(["control", "lavage"])}
    return {"description": c(["Ozone injection, 20 mL at 20 µg/mL", "Prolotherapy, 12.5% dextrose, 6 mL"])}


GOVERNANCE = {
    "study_registration": "NCT01234567",
    "ethics_reference": "REC 26/LO/0001",
    "regulatory_framework": "uk_cta",
    "authorisation_number": "CTA 12345/0001/001",
    "sponsor": "Registry research office",
}


def protocol_pool(rng: random.Random, per_product: int = 24) -> dict[str, list[tuple[str, str]]]:
    """Per product, (protocol JSON, governance JSON) as the services store them: validated and normalised."""
    pool: dict[str, list[tuple[str, str]]] = {}
    for product in PRODUCT_WEIGHTS:
        entries = []
        for _ in range(per_product):
            clean, errors = validate_protocol(product, _protocol(rng, product))
            if errors:  # a template that no longer fits the form: fail loudly, not with bad rows
                raise ValueError(f"synthetic {product} protocol is invalid: {errors}")
            governance = {}
            if governance_required(product, clean):
                governance, errors = validate_governance(product, dict(GOVERNANCE), protocol=clean)
                if errors:
                    raise ValueError(f"synthetic governance is invalid: {errors}")
            entries.append((JsonText(json.dumps(clean, sort_keys=True)), JsonText(json.dumps(governance))))
        pool[product] = entries
    return pool


# --- answers ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerVector:
    proms_json: str  # '"KOOS": {...}, "OKS": {...}, ...' without the braces, to splice the safety block in
    versions: dict[str, str]
    scores: dict[str, Any]
    columns: dict[str, Any]
    measures: dict[str, float | None]


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def prom_form(rng: random.Random, health: float) -> dict[str, str]:
    """Posted form values of the PROMs for a patient this well (0 worst, 1 best), item by item with noise."""
    from outcomes.instruments import get_instrument

    data: dict[str, str] = {}
    for code in questionnaire.PROMS:
        instrument = get_instrument(code)
        higher_better = instrument.scoring.direction == "higher_better"
        for item in instrument.items:
            if item.type == "slider":
                worse = _clip((1 - health) * 100 + rng.gauss(0, 8), 0, 100)
                data[f"{code}.{item.code}"] = str(round(worse))
                continue
            if item.type != "choice":
                continue
            if not item.required and rng.random() < 0.02:
                continue  # an item left blank now and then (OKS imputes up to two)
            scores = sorted(item.scores)
            lo, hi = scores[0], scores[-1]
            # KOOS items score 0 for no problem, OKS items 4: map health to the item's own direction.
            best_is_low = code == "KOOS" or not higher_better
            target = (1 - health) if best_is_low else health
            value = round(_clip(lo + target * (hi - lo) + rng.gauss(0, 0.5), lo, hi))
            data[f"{code}.{item.code}"] = str(min(scores, key=lambda s: abs(s - value)))
    return data


def answer_pool(rng: random.Random) -> list[list[AnswerVector]]:
    """HEALTH_LEVELS x VARIANTS PROM answer vectors, each parsed and scored once by the real code."""
    follow_up = FollowUp(timepoint=Timepoint.BASELINE, plan=TreatmentPlan(product=Product.PRP))
    pool = []
    for level in range(HEALTH_LEVELS):
        health = level / (HEALTH_LEVELS - 1)
        vectors = []
        for _ in range(VARIANTS):
            answers, versions = questionnaire.parse(follow_up, prom_form(rng, health))
            scores = questionnaire.score_all(answers, versions)
            columns = score_columns(scores)
            measures = submission_measures(Submission(**columns))
            body = json.dumps(answers, sort_keys=True)[1:-1]
            vectors.append(AnswerVector(body, versions, scores, columns, measures))
        pool.append(vectors)
    return pool


def further_block(rng: random.Random, replacement_month: dt.date | None) -> dict[str, dict[str, Any]]:
    """FURTHER answers as stored: no other injection; an operation only when a knee replacement is reported."""
    instrument = get_instrument("FURTHER")

    def choice(code: str, score: int) -> dict[str, Any]:
        label = next(o.label for o in instrument.item(code).options if o.score == score)
        return {"value": score, "option": label}

    block: dict[str, dict[str, Any]] = {
        "injection": {"value": False},
        "surgery": {"value": replacement_month is not None},
        "pain_medicine": choice("pain_medicine", _weighted(rng, PAIN_MEDICINE)),
        "physiotherapy": choice("physiotherapy", _weighted(rng, PHYSIOTHERAPY)),
    }
    if replacement_month is not None:
        block["surgery_kind"] = choice("surgery_kind", 4 if rng.random() < 0.8 else 3)  # total, else partial
        block["surgery_month"] = {"value": replacement_month.strftime("%Y-%m")}
    return block


def safety_block(rng: random.Random, product: str) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for code, p in SAFETY_YES.items():
        if code == "harvest_site_problem" and product != Product.BMAC:
            continue
        block[code] = {"value": rng.random() < p}
    if rng.random() < 0.02:
        block["other"] = {"value": rng.choice(SAFETY_TEXTS)}
    return block


@functools.lru_cache(maxsize=128)
def pain_vector(pain: int) -> AnswerVector:
    """An early safety check's pain slider, parsed and scored by the real code once per value."""
    answers = {"VAS": {"pain": {"value": pain}}}
    versions = {"VAS": questionnaire.current_versions()["VAS"]}
    scores = questionnaire.score_all(answers, versions)
    columns = score_columns(scores)
    measures = submission_measures(Submission(**columns))
    return AnswerVector(json.dumps(answers, sort_keys=True)[1:-1], versions, scores, columns, measures)


def early_safety_block(rng: random.Random, product: str) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for code, p in EARLY_SAFETY_YES.items():
        if code == "harvest_site_problem" and product not in PRODUCTS_WITH_HARVEST:
            continue
        block[code] = {"value": rng.random() < p}
    if product == Product.CORTICOSTEROID:
        labels = {o.score: o.label for o in get_instrument("SAFETY_EARLY").item("blood_glucose").options}
        value = rng.choices(list(BLOOD_GLUCOSE_WEIGHTS), weights=list(BLOOD_GLUCOSE_WEIGHTS.values()))[0]
        block["blood_glucose"] = {"value": value, "option": labels[value]}
    return block


# --- writing ---------------------------------------------------------------------------------------------------


class CopyThread:
    """Runs the COPYs of one chunk while the next chunk is generated: PostgreSQL parses and indexes on the other
    core (psycopg releases the GIL while it waits). Same connection and transaction; the main thread does not
    touch the connection until `join()`."""

    def __init__(self):
        connection.ensure_connection()
        # Django's `connection` is per thread: hand the thread this thread's psycopg connection itself.
        self.raw = connection.connection
        self.queue: queue.Queue = queue.Queue(maxsize=16)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="synth-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            writer, rows = item
            if self.error is None:
                try:
                    writer.copy(rows, self.raw)
                except Exception as exc:  # noqa: BLE001 - re-raised in the main thread by check()/join()
                    self.error = exc

    def put(self, writer, rows) -> None:
        self.check()
        self.queue.put((writer, rows))

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def join(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.check()


class TableWriter:
    """Rows for one model's table: COPY on PostgreSQL, bulk_create elsewhere. Ids are assigned here."""

    def __init__(self, model: type[models.Model], fields: list[str], copier: CopyThread | None = None):
        self.copier = copier
        self.model = model
        # Columns not given take the model's default, as the ORM would (COPY knows no Django defaults).
        given = set(fields)
        now = timezone.now()
        self.defaults = {}
        for f in model._meta.concrete_fields:
            if f.primary_key or f.attname in given:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self.defaults[f.attname] = now
            elif f.has_default():
                if callable(f.default) and f.default not in (dict, list):
                    raise ValueError(f"{model.__name__}.{f.attname}: give a value per row (its default varies)")
                self.defaults[f.attname] = f.get_default()
            elif not f.null and f.get_default() is not None:  # blank text: ""
                self.defaults[f.attname] = f.get_default()
        self.fields = ["id", *fields, *self.defaults]
        self.tail = tuple(JsonText(json.dumps(v)) if isinstance(v, dict | list) else v for v in self.defaults.values())
        self.rows: list[tuple] = []
        self.count = 0
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{model._meta.db_table}"')  # noqa: S608 - our names
            self.next_id = cursor.fetchone()[0] + 1

    def add(self, *values) -> int:
        pk = self.next_id
        self.next_id += 1
        self.rows.append((pk, *values, *self.tail))
        return pk

    def flush(self) -> None:
        if not self.rows:
            return
        if self.copier is not None:
            self.copier.put(self, self.rows)
        elif connection.vendor == "postgresql":
            self.copy(self.rows, connection.connection)
        else:
            self._bulk_create()
        self.count += len(self.rows)
        self.rows = []

    def copy(self, rows: list[tuple], raw) -> None:
        opts = self.model._meta
        columns = ", ".join(f'"{opts.get_field(name).column}"' if name != "id" else '"id"' for name in self.fields)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{opts.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def _bulk_create(self) -> None:
        objects = []
        for row in self.rows:
            values = {
                name: json.loads(value) if isinstance(value, JsonText) else value
                for name, value in zip(self.fields, row, strict=True)
            }
            objects.append(self.model(**values))
        # bulk_create stamps auto_now(_add) fields with "now" (pre_save), which would date every synthetic status
        # change and creation today; the rows carry their own times, as COPY writes them on PostgreSQL.
        stamped = [
            f
            for f in self.model._meta.concrete_fields
            if f.attname in self.fields and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))
        ]
        saved = [(f, f.auto_now, f.auto_now_add) for f in stamped]
        try:
            for f in stamped:
                f.auto_now = f.auto_now_add = False
            self.model.objects.bulk_create(objects, batch_size=500)
        finally:
            for f, auto_now, auto_now_add in saved:
                f.auto_now, f.auto_now_add = auto_now, auto_now_add

    def reset_sequence(self) -> None:
        if connection.vendor != "postgresql":
            return
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))",  # noqa: S608
                [table],
            )


# --- the generator ---------------------------------------------------------------------------------------------


@dataclass
class Counts:
    rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return ", ".join(f"{n:,} {name}" for name, n in self.rows.items())


def _weighted(rng: random.Random, weights: dict) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=list(weights.values()))[0]


def _at(day: dt.date, tz, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz).astimezone(dt.UTC)


class Generator:
    def __init__(self, *, seed: int, clinics: list, clinicians: dict[int, list[int]], today: dt.date):
        self.rng = random.Random(seed)
        # Selection factors draw from their own generator: the rest of the registry is what it was without them.
        self.selection_rng = random.Random(f"selection {seed}")
        self.clinics = clinics
        self.clinicians = clinicians
        self.today = today
        self.now = timezone.now()
        self.latest = self.now - dt.timedelta(minutes=5)  # nothing answered in the future
        self.protocols = protocol_pool(self.rng)
        self.answers = answer_pool(self.rng)
        self.rules = safety_rules.configured_rules()
        self.taken_numbers = set(Patient.objects.values_list("registry_number", flat=True))
        self.ae_model = AdverseEvent
        self.copier = CopyThread() if connection.vendor == "postgresql" else None
        copier = self.copier

        self.patients = TableWriter(
            Patient,
            [
                "clinic_id",
                "registry_number",
                "full_name",
                "email",
                "phone",
                "year_of_birth",
                "sex",
                "consent_on",
                "consent_version",
                "consent_registry",
                "consent_email_contact",
                "consent_sms_contact",
                "phone_invalid_reason",
                "consent_withdrawn_at",
                "withdrawal_decision",
                "withdrawal_reason",
                "created_at",
                "updated_at",
            ],
            copier,
        )
        self.plans = TableWriter(
            TreatmentPlan, ["patient_id", "knee", "product", "planned_injections", "created_at"], copier
        )
        self.injections = TableWriter(
            Injection,
            [
                "patient_id",
                "plan_id",
                "number_in_plan",
                "knee",
                "status",
                "injected_on",
                "clinician_id",
                "product",
                "guidance",
                "volume_ml",
                "rehabilitation",
                "rehabilitation_notes",
                "kl_grade",
                "age_at_injection",
                "bmi",
                "alignment",
                "alignment_degrees",
                "activity_level",
                "previous_treatments",
                "pathology",
                "pathology_notes",
                "protocol",
                "governance",
                "created_by_id",
                "created_at",
                "updated_at",
                *demo_selection.COLUMNS,
            ],
            copier,
        )
        # Each injection is its one component (issue 15), as the service records a single-product injection.
        self.components = TableWriter(
            InjectionComponent,
            ["injection_id", "position", "product", "route", "site", "volume_ml", "protocol"],
            copier,
        )
        self.follow_ups = TableWriter(
            FollowUp,
            [
                "plan_id",
                "patient_id",
                "clinic_id",
                "timepoint",
                "opens_on",
                "due_on",
                "closes_on",
                "injected_on",
                "status",
                "status_changed_at",
                "cancelled_reason",
                "created_at",
            ],
            copier,
        )
        self.submissions = TableWriter(
            Submission,
            [
                "follow_up_id",
                "clinic_id",
                "timepoint",
                "submitted_at",
                "source",
                "entered_by_id",
                "late",
                "answers",
                "instrument_versions",
                "scores",
                *SCORE_COLUMNS,
                "oks_imputed",
                "amended",
            ],
            copier,
        )
        self.further_treatments = TableWriter(
            FurtherTreatment,
            [
                "patient_id",
                "plan_id",
                "knee",
                "kind",
                "month",
                "day",
                "reported_by_patient",
                "recorded_by_clinic",
                "submission_id",
                "recorded_by_id",
                "recorded_on",
                "created_at",
            ],
            copier,
        )
        self.evaluations = TableWriter(
            Evaluation, ["submission_id", "evaluated_at", "last_attempt_at", "attempts", "error"], copier
        )
        self.flags = TableWriter(
            Flag,
            [
                "clinic_id",
                "patient_id",
                "follow_up_id",
                "submission_id",
                "rule",
                "urgent",
                "values",
                "status",
                "dismissed_reason",
                "reviewed_by_id",
                "reviewed_at",
                "raised_at",
            ],
            copier,
        )
        self.messages = TableWriter(
            OutboundMessage,
            [
                "kind",
                "clinic_id",
                "follow_up_id",
                "patient_id",
                "recipient_user_id",
                "recipient",
                "dedupe_key",
                "scheduled_for",
                "status",
                "attempts",
                "last_error",
                "cancelled_reason",
                "claimed_by",
                "claimed_at",
                "sent_at",
                "link_id",
                "context",
                "created_at",
                "updated_at",
            ],
            copier,
        )
        self.writers = [
            self.patients,
            self.plans,
            self.injections,
            self.components,
            self.follow_ups,
            self.submissions,
            self.further_treatments,
            self.evaluations,
            self.flags,
            self.messages,
        ]
        self.events: list[dict] = []  # adverse events, written with the ORM (few; they have an M2M)

    # -- people ---------------------------------------------------------------------------------------------

    def _registry_number(self) -> str:
        while True:
            body = "".join(self.rng.choice(_REGISTRY_ALPHABET) for _ in range(8))
            number = f"KR-{body[:4]}-{body[4:]}"
            if number not in self.taken_numbers:
                self.taken_numbers.add(number)
                return number

    def _patient(self, clinic, first_on: dt.date) -> tuple[int, int, dt.datetime | None]:
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        number = self._registry_number()
        year_of_birth = rng.randint(1940, 1985)
        # Never in the future, even for an injection planned for next month (consent is taken before it).
        consent_on = min(first_on - dt.timedelta(days=rng.randint(0, 21)), self.today)
        created = min(_at(consent_on, clinic.tzinfo, 10), self.latest)
        withdrawn_at = None
        if rng.random() < WITHDRAWN_SHARE and first_on < self.today - dt.timedelta(days=40):
            withdrawn_on = first_on + dt.timedelta(days=rng.randint(35, max(36, (self.today - first_on).days - 1)))
            withdrawn_at = _at(min(withdrawn_on, self.today - dt.timedelta(days=1)), clinic.tzinfo, 15)
        pk = self.patients.add(
            clinic.pk,
            number,
            f"{first} {last}",
            f"{first.lower()}.{number[-4:].lower()}@example.org",
            # Ofcom's drama range, as E.164 like every number the registry stores (one draw, as before).
            f"+447700900{rng.randint(0, 99999) % 1000:03d}",
            year_of_birth,
            rng.choice(["female", "female", "male", "male", "other", "unknown"]),
            consent_on,
            CONSENT_VERSION,
            True,
            withdrawn_at is None,
            False,  # texts: none of the synthetic patients (the showcase has one)
            "",
            withdrawn_at,
            "retain" if withdrawn_at else "",
            "No longer wishes to be contacted" if withdrawn_at else "",
            created,
            withdrawn_at or created,
        )
        return pk, year_of_birth, withdrawn_at

    # -- plans and injections ---------------------------------------------------------------------------------

    def plan(self, clinic, remaining: int) -> int:
        """One patient with one knee's treatment plan (sometimes both knees); returns the injections written."""
        rng = self.rng
        # First injections over the past two years; a few planned in the coming month.
        offset = rng.randint(-30, 730) if rng.random() < 0.96 else rng.randint(-30, -1)
        first_on = self.today - dt.timedelta(days=offset)
        patient_id, year_of_birth, withdrawn_at = self._patient(clinic, first_on)
        knees = ["left", "right"] if rng.random() < 0.12 else [rng.choice(["left", "right"])]
        written = 0
        for knee in knees:
            if written >= remaining:
                break
            written += self._plan(clinic, patient_id, year_of_birth, withdrawn_at, knee, first_on, remaining - written)
        return written

    def _plan(self, clinic, patient_id, year_of_birth, withdrawn_at, knee, first_on, remaining) -> int:
        rng = self.rng
        product = _weighted(rng, PRODUCT_WEIGHTS)
        p_staged, stages, gap = STAGING.get(product, (0, 1, 0))
        planned = stages if rng.random() < p_staged else 1
        planned = min(planned, remaining)
        kl = _weighted(rng, KL_WEIGHTS)
        clinician = rng.choice(self.clinicians[clinic.pk])
        protocol, governance = rng.choice(self.protocols[product])
        recorded_on = min(first_on - dt.timedelta(days=rng.randint(0, 21)), self.today)
        created = min(_at(recorded_on, clinic.tzinfo, 9, rng.randint(0, 59)), self.latest)
        plan_id = self.plans.add(patient_id, knee, product, planned, created)

        alignment = rng.choice(["neutral", "neutral", "varus", "varus", "valgus"])
        degrees = None if alignment == "neutral" else Decimal(rng.randint(2, 9))
        volume = json.loads(protocol).get("concentrate_volume_ml") if product == Product.BMAC else VOLUME_ML[product]
        selection = (
            kl,
            first_on.year - year_of_birth,
            Decimal(str(round(_clip(rng.gauss(28, 4.5), 18, 48), 1))),
            alignment,
            degrees,
            rng.randint(1, 7),
            JsonText(json.dumps(rng.sample(["physiotherapy", "nsaid", "steroid_injection", "weight_loss"], k=2))),
            JsonText(json.dumps(rng.choice([[], [], [], ["meniscal_tear"], ["bone_marrow_lesion"]]))),
        )
        factors = demo_selection.selection_factors(
            self.selection_rng, injected_on=first_on, today=self.today, alignment=alignment, bmi=selection[2]
        )
        factors["kl_compartments"] = JsonText(json.dumps(factors["kl_compartments"]))
        for number in range(1, planned + 1):
            injected_on = first_on + dt.timedelta(days=gap * (number - 1))
            status = InjectionStatus.GIVEN if injected_on <= self.today else InjectionStatus.PLANNED
            kl_, _age, _bmi, alignment_, degrees_, activity, previous, pathology = selection
            bmi = factors["bmi"]
            injection_id = self.injections.add(
                patient_id,
                plan_id,
                number,
                knee,
                status,
                injected_on,
                clinician,
                product,
                "ultrasound" if product in ("bmac", "exosome", "adsc") else rng.choice(["ultrasound", "landmark"]),
                Decimal(str(volume)),
                rng.choice(["home", "supervised", "protocol", "none"]),
                "",
                kl_,
                injected_on.year - year_of_birth,
                bmi,
                alignment_,
                degrees_,
                activity,
                previous,
                pathology,
                "",
                protocol,
                governance,
                clinician,
                created,
                created,
                *(factors[name] for name in demo_selection.COLUMNS),
            )
            self.components.add(injection_id, 1, product, Route.INTRA_ARTICULAR, "", Decimal(str(volume)), protocol)
        self._follow_ups(clinic, patient_id, plan_id, knee, product, kl, clinician, first_on, recorded_on, withdrawn_at)
        return planned

    # -- follow-ups, answers, flags, outbox ------------------------------------------------------------------

    def _status(self, window, withdrawn_on: dt.date | None) -> tuple[str, dt.date | None]:
        """(status, day answered) of a follow-up window as of today."""
        today, rng = self.today, self.rng
        completion = COMPLETION[window.timepoint]
        if withdrawn_on is not None and window.closes_on >= withdrawn_on:
            # Consent withdrawn while this was still to come: cancelled (answered first, now and then).
            if window.opens_on < withdrawn_on and rng.random() < completion / 2:
                last = min(withdrawn_on - dt.timedelta(days=1), window.closes_on, today)
                return FollowUpStatus.COMPLETED, window.opens_on + dt.timedelta(
                    days=rng.randint(0, (last - window.opens_on).days)
                )
            return FollowUpStatus.CANCELLED, None
        if today < window.opens_on:
            return FollowUpStatus.SCHEDULED, None
        last = min(today, window.closes_on)
        if today <= window.closes_on:
            # Open now: answered by some, the share growing with the days it has been open.
            span = (window.closes_on - window.opens_on).days or 1
            if rng.random() < completion * (today - window.opens_on).days / span:
                return FollowUpStatus.COMPLETED, window.opens_on + dt.timedelta(
                    days=rng.randint(0, (last - window.opens_on).days)
                )
            return FollowUpStatus.OPEN, None
        if rng.random() < completion:
            # Most answer within days of the invitation.
            delay = min(int(rng.expovariate(1 / 4)), (last - window.opens_on).days)
            return FollowUpStatus.COMPLETED, window.opens_on + dt.timedelta(days=delay)
        return FollowUpStatus.MISSED, None

    def _health(self, timepoint: str, product: str, kl: int, baseline: float) -> float:
        if timepoint == Timepoint.BASELINE:
            return baseline
        gain = PRODUCT_GAIN[product][0 if timepoint == Timepoint.ONE_MONTH else 1] * KL_GAIN[kl]
        return _clip(baseline + gain + self.rng.gauss(0, HEALTH_NOISE), 0, 1)

    def _follow_ups(
        self, clinic, patient_id, plan_id, knee, product, kl, clinician, first_on, recorded_on, withdrawn_at
    ):
        rng, tz = self.rng, clinic.tzinfo
        withdrawn_on = withdrawn_at.astimezone(tz).date() if withdrawn_at else None
        baseline_health = _clip(BASELINE_HEALTH[kl] + rng.gauss(0, 0.12), 0.02, 0.98)
        baseline_measures = None
        replaced = False  # a knee replaced once is not replaced again
        # (answered at, measures) of each answered questionnaire: "the knee's previous score" is the latest one
        # answered before, as safety.services.previous_submission_for finds it (a baseline may be answered after
        # the day-3 check has opened).
        answered: list[tuple[dt.datetime, dict]] = []
        for window in windows(injected_on=first_on, recorded_on=recorded_on, product=product):
            status, answered_on = self._status(window, withdrawn_on)
            created = min(_at(recorded_on, tz, 9, 30), self.latest)
            if status == FollowUpStatus.COMPLETED:
                changed = min(_at(answered_on, tz, rng.randint(8, 21), rng.randint(0, 59)), self.latest)
            elif status == FollowUpStatus.MISSED:
                changed = _at(window.closes_on + dt.timedelta(days=1), tz, 0, 5)
            elif status == FollowUpStatus.OPEN:
                changed = min(_at(window.opens_on, tz, 0, 5), self.latest)
            elif status == FollowUpStatus.CANCELLED:
                changed = withdrawn_at
            else:
                changed = created
            follow_up_id = self.follow_ups.add(
                plan_id,
                patient_id,
                clinic.pk,
                window.timepoint,
                window.opens_on,
                window.due_on,
                window.closes_on,
                first_on,
                status,
                changed,
                "Consent withdrawn" if status == FollowUpStatus.CANCELLED else "",
                created,
            )
            self._messages(clinic, patient_id, follow_up_id, window, status, answered_on)
            if status != FollowUpStatus.COMPLETED:
                continue
            early = window.timepoint in SAFETY_CHECK_TIMEPOINTS
            if early:
                # Pain near the baseline's, a flare now and then; the short safety questions, no outcome measures.
                vector = pain_vector(round(_clip((1 - baseline_health) * 100 + rng.gauss(4, 10), 0, 100)))
                safety_code, safety = "SAFETY_EARLY", early_safety_block(rng, product)
            else:
                health = self._health(window.timepoint, product, kl, baseline_health)
                level = round(health * (HEALTH_LEVELS - 1))
                vector = rng.choice(self.answers[level])
                safety_code = "SAFETY"
                safety = safety_block(rng, product) if window.timepoint != Timepoint.BASELINE else None
            versions = dict(vector.versions)
            body = vector.proms_json
            replacement_month = None
            if safety is not None:
                versions[safety_code] = questionnaire.current_versions()[safety_code]
                body += f', "{safety_code}": ' + json.dumps(safety)
            if safety is not None and not early:
                late = window.timepoint in (Timepoint.TWELVE_MONTHS, Timepoint.TWENTY_FOUR_MONTHS)
                if late and not replaced and rng.random() < REPLACEMENT_BY_KL[kl]:
                    months = (answered_on.year - first_on.year) * 12 + answered_on.month - first_on.month
                    offset = rng.randint(max(1, months - 11), months)
                    replacement_month = add_months(first_on.replace(day=1), offset)
                    replaced = True
                versions["FURTHER"] = questionnaire.current_versions()["FURTHER"]
                further = further_block(rng, replacement_month)
                body += ', "FURTHER": ' + json.dumps(further)
            source = rng.choices(
                [SubmissionSource.PATIENT_LINK, SubmissionSource.CLINIC_TABLET, SubmissionSource.STAFF_ENTERED],
                weights=[85, 10, 5],
            )[0]
            cols = vector.columns
            submission_id = self.submissions.add(
                follow_up_id,
                clinic.pk,
                window.timepoint,
                changed,
                source,
                clinician if source == SubmissionSource.STAFF_ENTERED else None,
                False,
                JsonText("{" + body + "}"),
                JsonText(json.dumps(versions, sort_keys=True)),
                JsonText(json.dumps(vector.scores, sort_keys=True)),
                *(cols[column] for column in SCORE_COLUMNS),
                cols["oks_imputed"],
                False,
            )
            if replacement_month is not None:
                kind = further["surgery_kind"]["value"]
                self.further_treatments.add(
                    patient_id,
                    plan_id,
                    knee,
                    FurtherTreatmentKind.TOTAL_KNEE_REPLACEMENT
                    if kind == 4
                    else FurtherTreatmentKind.PARTIAL_KNEE_REPLACEMENT,
                    replacement_month,
                    None,
                    True,
                    False,
                    submission_id,
                    None,
                    None,
                    changed,
                )
            evaluated = min(changed + dt.timedelta(seconds=rng.randint(2, 90)), self.now)
            self.evaluations.add(submission_id, evaluated, evaluated, 1, "")
            if window.timepoint == Timepoint.BASELINE:
                baseline_measures = vector.measures
                answered.append((changed, vector.measures))
                continue
            findings = safety_rules.evaluate(
                {safety_code: safety or {}},
                vector.measures,
                None if early else baseline_measures,  # as safety.services.flags: no efficacy flags at a check
                rules=self.rules,
                previous_scores=max(
                    ((at, m) for at, m in answered if at < changed), key=lambda pair: pair[0], default=(None, None)
                )[1],
            )
            answered.append((changed, vector.measures))
            for finding in findings:
                self._flag(clinic, patient_id, follow_up_id, submission_id, finding, evaluated, clinician, product)

    def _flag(self, clinic, patient_id, follow_up_id, submission_id, finding, raised_at, clinician, product):
        rng = self.rng
        age = (self.today - raised_at.astimezone(clinic.tzinfo).date()).days
        status, reason, reviewer, reviewed_at = FlagStatus.OPEN, "", None, None
        if age > 14 or rng.random() < 0.5:
            reviewer, reviewed_at = clinician, min(raised_at + dt.timedelta(hours=rng.randint(2, 72)), self.now)
            # Urgent findings and some others become recorded adverse events; the rest are dismissed.
            if finding.urgent or rng.random() < 0.25:
                status = FlagStatus.EVENT_RECORDED
            else:
                status, reason = FlagStatus.DISMISSED, "Expected post-injection reaction; settled by phone review."
        values = dict(finding.values)
        flag_id = self.flags.add(
            clinic.pk,
            patient_id,
            follow_up_id,
            submission_id,
            finding.rule,
            finding.urgent,
            JsonText(json.dumps(values, sort_keys=True)),
            status,
            reason,
            reviewer,
            reviewed_at,
            raised_at,
        )
        if status == FlagStatus.EVENT_RECORDED and self.ae_model is not None:
            self.events.append(
                {
                    "clinic_id": clinic.pk,
                    "patient_id": patient_id,
                    "flag_id": flag_id,
                    "finding": finding.rule,
                    "urgent": finding.urgent,
                    "onset_on": raised_at.astimezone(clinic.tzinfo).date() - dt.timedelta(days=rng.randint(0, 10)),
                    "recorded_by": clinician,
                    "recorded_at": reviewed_at,
                    "product": product,
                }
            )

    def _messages(self, clinic, patient_id, follow_up_id, window, status, answered_on):
        """The invitation of every window that opened (sent), reminders of missed ones (sent), and the reminders
        still to come for open ones (pending), as the notifications schedule plans them."""
        if status in (FollowUpStatus.SCHEDULED, FollowUpStatus.CANCELLED):
            return
        now = self.now
        plan = _message_plan(window.opens_on, window.closes_on, window.timepoint in SAFETY_CHECK_TIMEPOINTS)
        for kind, day in plan:
            if status == FollowUpStatus.COMPLETED and day > answered_on:
                break
            due = _sending_time(clinic.time_zone, day)
            if status != FollowUpStatus.OPEN or due <= now:
                sent = min(due + dt.timedelta(seconds=self.rng.randint(1, 300)), self.latest)
                row = (MessageStatus.SENT, 1, sent, min(due, sent))
            else:
                row = (MessageStatus.PENDING, 0, None, due)
            state, attempts, sent_at, scheduled = row
            written = min(scheduled - dt.timedelta(days=1), self.latest)  # queued the day before, never in the future
            self.messages.add(
                kind,
                clinic.pk,
                follow_up_id,
                patient_id,
                None,
                "patient@example.org" if state == MessageStatus.SENT else "",
                f"{follow_up_id}:{kind}",
                scheduled,
                state,
                attempts,
                "",
                "",
                "",
                None,
                sent_at,
                None,
                JsonText("{}"),
                written,
                sent_at or written,
            )

    # -- adverse events ----------------------------------------------------------------------------------------

    def _events(self) -> int:
        """Adverse events (with assessments, some serious) for flags recorded as events, plus a few reported by
        clinicians; written with the ORM, since there are few and each links to its injections."""
        if self.ae_model is None or not self.events:
            return 0
        return write_adverse_events(self.ae_model, self.events, self.rng, self.today)

    # -- driver ---------------------------------------------------------------------------------------------------

    def run(self, injections: int, progress: Callable[[str], None] | None = None) -> Counts:
        written = 0
        clinic_cycle = 0
        while written < injections:
            chunk_target = min(injections, written + CHUNK_PLANS)
            while written < chunk_target:
                clinic = self.clinics[clinic_cycle % len(self.clinics)]
                clinic_cycle += 1
                written += self.plan(clinic, injections - written)
            for writer in self.writers:
                writer.flush()
            if progress:
                progress(f"  {written:,} / {injections:,} injections")
        if self.copier is not None:
            self.copier.join()
        events = self._events()
        for writer in self.writers:
            writer.reset_sequence()
        counts = Counts(
            {
                "patients": self.patients.count,
                "plans": self.plans.count,
                "injections": self.injections.count,
                "follow-ups": self.follow_ups.count,
                "submissions": self.submissions.count,
                "flags": self.flags.count,
                "outbox messages": self.messages.count,
            }
        )
        if self.ae_model is not None:
            counts.rows["adverse events"] = events
        return counts


_CATEGORY_BY_RULE = {
    "safety_infection_signs": ["septic_arthritis", "pseudoseptic_reaction", "fever_systemic"],
    "safety_hospital_admission": ["septic_arthritis", "haemarthrosis", "allergic"],
    "safety_swelling": ["effusion", "post_injection_flare"],
    "safety_unable_bear_weight": ["post_injection_flare", "effusion", "septic_arthritis"],
    "swelling_with_pain_worse": ["post_injection_flare", "effusion", "pseudoseptic_reaction"],
    "safety_medical_care": ["post_injection_flare", "injection_site_pain", "effusion"],
    "safety_harvest_site": ["harvest_pain", "harvest_haematoma", "harvest_nerve"],
    "safety_clot_signs": ["dvt_pe"],
    "safety_allergic_reaction": ["allergic"],
    "safety_puncture_site": ["injection_site_pain", "cellulitis"],
    "safety_feeling_unwell": ["fever_systemic", "post_injection_flare"],
    "safety_rash": ["allergic"],
    "safety_numbness": ["other"],
    "safety_blood_glucose": ["hyperglycaemia"],
}


# Events the procedure itself (the needle, the harvest) may well have caused.
_PROCEDURE_CATEGORIES = {
    "septic_arthritis",
    "haemarthrosis",
    "injection_site_pain",
    "harvest_pain",
    "harvest_haematoma",
    "harvest_infection",
    "harvest_nerve",
    "vasovagal",
}


def write_adverse_events(model, events: list[dict], rng: random.Random, today: dt.date) -> int:
    """Bulk-create assessed adverse events: severity by finding, seriousness consistent with it (hospital
    admissions serious), causality and outcome, each linked to the patient's latest injection given by onset."""
    index = {}
    for patient_id, injection_id, injected_on in (
        Injection.objects.filter(patient_id__in={e["patient_id"] for e in events}, status=InjectionStatus.GIVEN)
        .order_by("patient_id", "injected_on", "id")
        .values_list("patient_id", "id", "injected_on")
    ):
        index.setdefault(patient_id, []).append((injected_on, injection_id))
    rows, links = [], []
    for event in events:
        given = [(on, pk) for on, pk in index.get(event["patient_id"], []) if on <= event["onset_on"]]
        if not given:
            continue
        onset = max(event["onset_on"], given[-1][0])
        rule = event["finding"]
        category = rng.choice(_CATEGORY_BY_RULE.get(rule, ["post_injection_flare", "other"]))
        if category.startswith("harvest") and event["product"] not in PRODUCTS_WITH_HARVEST:
            category = "injection_site_pain"
        hospital = rule == "safety_hospital_admission" or (event["urgent"] and rng.random() < 0.3)
        severity = 3 if hospital else rng.choice([1, 1, 2, 2, 3]) if event["urgent"] else rng.choice([1, 1, 2])
        if category == "septic_arthritis":
            severity = max(severity, 3)  # serious and CTCAE grade 3 or more (issue 15)
        outcome = rng.choice(["recovered", "recovered", "recovering", "recovered_with_sequelae", "not_recovered"])
        outcome_on = None
        if outcome in ("recovered", "recovered_with_sequelae"):
            outcome_on = min(onset + dt.timedelta(days=rng.randint(2, 30)), today)
        instance = model(
            clinic_id=event["clinic_id"],
            patient_id=event["patient_id"],
            index_injection_id=given[-1][1],
            source="rule",
            flag_id=event["flag_id"],
            onset_on=onset,
            category=category,
            description="Synthetic case narrative: reported on the follow-up questionnaire, reviewed by phone.",
            severity=severity,
            serious_hospitalisation=hospital,
            serious_other_medically_important=category == "septic_arthritis" and not hospital,
            # The product's causality as drawn; the procedure's follows the kind of event (a needle or a harvest
            # can cause these), so the draws, and the rest of the synthetic registry, stay as they were.
            causality_product=rng.choice(["probable", "possible", "possible", "unlikely"]),
            causality_procedure="possible" if category in _PROCEDURE_CATEGORIES else "unlikely",
            aware_on=min(max(onset, timezone.localdate(event["recorded_at"])), today),
            relatedness="harvest" if category.startswith("harvest") else rng.choice(["injection", "unknown"]),
            expectedness="unexpected" if hospital else "expected",
            action_taken="admission" if hospital else rng.choice(["none", "conservative", "medication", "aspiration"]),
            outcome=outcome,
            outcome_on=outcome_on,
            recorded_by_id=event["recorded_by"],
            recorded_at=event["recorded_at"],
            assessed_by_id=event["recorded_by"],
            assessed_at=min(event["recorded_at"] + dt.timedelta(hours=rng.randint(1, 48)), timezone.now()),
        )
        instance.sync_derived()
        rows.append(instance)
        links.append(given[-1][1])
    created = model.objects.bulk_create(rows, batch_size=1000)
    through = model.injections.through
    through.objects.bulk_create(
        [through(adverseevent_id=ae.pk, injection_id=injection) for ae, injection in zip(created, links, strict=True)],
        batch_size=1000,
    )
    _report_susar_candidates(model, [ae.pk for ae in created], today)
    return len(created)


def _report_susar_candidates(model, event_ids: list[int], today: dt.date) -> None:
    """The synthetic clinics reported their SUSAR candidates (the model's own rule) to the study sponsor five days
    after they knew, so the demo's clock list holds only the showcase's candidate."""
    report = model.regulatory_reports.rel.related_model
    candidates = model.objects.filter(pk__in=event_ids).susar_candidates()
    report.objects.bulk_create(
        [
            report(
                event_id=pk,
                route="sponsor",
                kind="initial",
                submitted_on=min(aware_on + dt.timedelta(days=5), today),
                reference=f"SYN-SAE-{pk}",
                submitted_by_id=by,
            )
            for pk, aware_on, by in candidates.values_list("pk", "aware_on", "recorded_by_id")
        ],
        batch_size=1000,
    )


def generate(
    *,
    injections: int,
    seed: int,
    clinics: list,
    clinicians: dict[int, list[int]],
    today: dt.date,
    progress: Callable[[str], None] | None = None,
) -> Counts:
    """Write a synthetic registry of `injections` injections over `clinics` (clinician user ids per clinic)."""
    with transaction.atomic():
        generator = Generator(seed=seed, clinics=clinics, clinicians=clinicians, today=today)
        counts = generator.run(injections, progress)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for writer in generator.writers:
                cursor.execute(f'ANALYZE "{writer.model._meta.db_table}"')
    return counts


def synthetic_patients():
    return Patient.objects.filter(consent_version=CONSENT_VERSION)


__all__ = ["CONSENT_VERSION", "Counts", "JsonText", "generate", "synthetic_patients"]

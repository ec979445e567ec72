"""The `expectation` bench step (issue 16): "knees like mine" for one consultation at the bench registry's size,
through the service, through the API, and as one hand-written SQL statement a DBA would write for the same figures.

Run by bench.steps (`python -m bench.steps expectation`), i.e. with Django set up on bench.settings. The reference
reads the same per-plan summary table the service reads (outcomes_planoutcome, kept by triggers), scoped by the
same rule (the reader's clinics, first injection given, patient consenting), picks each product's reference group
with the same widening (same KL band and age band, then any age, then any grade, the first with at least the
minimum of knees due) and returns per product: knees due, heard back, per measure the knees compared, improved by
at least the MCID, the same or worse and the sums of the change, OMERACT-OARSI responders and decided knees, given
injections and adverse events by seriousness, and knees with further treatment (any, and per kind). Its numbers
must equal the service's (checked on every figure the service shows unwithheld), so the comparison is honest.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from consultations.models import Consultation
from consultations.selectors import consultation_expectation, review_timepoint
from consultations.services import consultation_record
from outcomes.analysis.expectation import KL_BANDS, MEASURES, kl_band, minimum
from outcomes.derived import EPS, OARSI_HIGH, OARSI_MODERATE
from outcomes.measures import BY_NAME
from outcomes.models import FurtherTreatmentKind
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import get_thresholds
from registry.choices import Role
from registry.models import Clinic, Membership, Patient
from registry.models.patient import AGE_BANDS

BENCH_CLINICIAN = "bench-clinician"
BENCH_PATIENT = "KR-BNCH-CONSULT"
AGE = 60


def bench_consultation() -> tuple[Consultation, Any]:
    """A clinician of every clinic (so the reference group is drawn from the whole registry: the heaviest reader)
    and one consultation by them: KL 2, aged 60, proceed with BMAC, review at 6 months. Made once per database."""
    user, _ = get_user_model().objects.get_or_create(username=BENCH_CLINICIAN, defaults={"email": "bench@example.org"})
    clinics = list(Clinic.objects.order_by("pk"))
    for clinic in clinics:
        Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": Role.CLINICIAN})
    existing = Consultation.objects.filter(patient__registry_number=BENCH_PATIENT).first()
    if existing is not None:
        return existing, user
    today = timezone.localdate()
    with transaction.atomic():
        return _record(clinics[0], user, today), user


def _record(clinic: Clinic, user, today: dt.date) -> Consultation:
    patient = Patient.objects.create(
        clinic=clinic,
        registry_number=BENCH_PATIENT,
        year_of_birth=today.year - AGE,
        sex="female",
        consent_on=today,
        consent_version="bench",
    )
    return consultation_record(
        patient=patient,
        by=user,
        data={
            "knee": "left",
            "consulted_on": today,
            "kl_grade": 2,
            "bmi": 27.5,
            "indications": ["pain_despite_exercise", "early_oa"],
            "alternatives_discussed": ["exercise", "weight", "prp"],
            "decision": "proceed",
            "proposed_product": "bmac",
            "review_after_months": 6,
            "fallback_offer": ["physiotherapy", "repeat_injection"],
        },
    )


# --- The hand-written reference -------------------------------------------------------------------------------


def _improved(before: str, after: str, rule: tuple[float, float]) -> str:
    """OMERACT-OARSI's improvement (0-100, higher is worse): baseline above 0, the gain at least the absolute and
    the relative amount."""
    relative, absolute = rule
    return (
        f"({before} > 0 AND {before} - {after} >= {absolute - EPS!r} "
        f"AND {before} - {after} >= {relative!r} * {before} - {EPS!r})"
    )


def _responder(t: str) -> str:
    pain_b, pain_f = "(100 - b_koos_pain)", f"(100 - {t}_koos_pain)"
    adl_b, adl_f = "(100 - b_koos_adl)", f"(100 - {t}_koos_adl)"
    glob_b, glob_f = "b_patient_global", f"{t}_patient_global"
    moderate = f"({_improved(pain_b, pain_f, OARSI_MODERATE)})::int + ({_improved(adl_b, adl_f, OARSI_MODERATE)})::int"
    glob = f"({glob_b} IS NOT NULL AND {glob_f} IS NOT NULL AND {_improved(glob_b, glob_f, OARSI_MODERATE)})::int"
    return f"""CASE
        WHEN b_koos_pain IS NULL OR {t}_koos_pain IS NULL OR b_koos_adl IS NULL OR {t}_koos_adl IS NULL THEN NULL
        WHEN {_improved(pain_b, pain_f, OARSI_HIGH)} OR {_improved(adl_b, adl_f, OARSI_HIGH)} THEN 1
        WHEN {moderate} + {glob} >= 2 THEN 1
        WHEN ({glob_b} IS NULL) <> ({glob_f} IS NULL) AND {moderate} >= 1 THEN NULL
        ELSE 0 END"""


def reference_sql(timepoint: str) -> str:
    """One statement: the reader's due knees, each product's level, its group, and the group's figures."""
    t = SHORT[timepoint]
    thresholds = get_thresholds()
    measures = []
    for name in MEASURES:
        m = BY_NAME[name]
        sign = 1 if thresholds[m.mcid_key].direction == "increase" else -1
        delta = f"({sign} * ({t}_{m.column} - b_{m.column}))"  # the change in the direction of improvement
        raw = f"({t}_{m.column} - b_{m.column})"
        mcid = thresholds[m.mcid_key].value
        measures += [
            f"count({raw}) AS {m.column}_n",
            f"sum({raw}) AS {m.column}_s",
            f"sum({raw} * {raw}) AS {m.column}_ss",
            f"count(*) FILTER (WHERE {delta} >= {mcid - EPS!r}) AS {m.column}_mcid",
            f"count(*) FILTER (WHERE {delta} <= {EPS!r}) AS {m.column}_worse",
        ]
    columns = ", ".join(
        f"o.{prefix}_{column}"
        for column in ("koos_pain", "koos_adl", "oks_total", "patient_global")
        for prefix in ("b", t)
    )
    kinds = ", ".join(
        f"count(DISTINCT f.plan_id) FILTER (WHERE f.kind = '{value}') AS kind_{value}"
        for value in FurtherTreatmentKind.values
    )
    return f"""
    WITH due AS MATERIALIZED (
        SELECT o.plan_id, o.product, o.{t}_status, {columns}, coalesce(o.kl_grade = ANY(%(kl)s), false) AS same_kl,
               coalesce(o.age_at_injection BETWEEN %(age_low)s AND %(age_high)s, false) AS same_age
        FROM outcomes_planoutcome o
        JOIN registry_treatmentplan p ON p.id = o.plan_id
        JOIN registry_patient pt ON pt.id = p.patient_id AND pt.consent_registry
        JOIN registry_injection i ON i.plan_id = p.id AND i.number_in_plan = 1 AND i.status = 'given'
        WHERE pt.clinic_id IN (SELECT clinic_id FROM registry_membership WHERE user_id = %(user)s)
          AND (o.{t}_status IN ('completed', 'missed') OR (o.{t}_status = 'open' AND o.{t}_due < %(today)s))
    ), level AS (
        SELECT product, CASE WHEN count(*) FILTER (WHERE same_kl AND same_age) >= %(k)s THEN 0
                             WHEN count(*) FILTER (WHERE same_kl) >= %(k)s THEN 1
                             WHEN count(*) >= %(k)s THEN 2 END AS level
        FROM due GROUP BY product
    ), grp AS MATERIALIZED (
        SELECT d.* FROM due d JOIN level l USING (product)
        WHERE (l.level = 0 AND d.same_kl AND d.same_age) OR (l.level = 1 AND d.same_kl) OR l.level = 2
    ), figures AS (
        SELECT product, count(*) AS due, count(*) FILTER (WHERE {t}_status = 'completed') AS heard,
               {", ".join(measures)},
               count(*) FILTER (WHERE r = 1) AS responders, count(r) AS decided
        FROM (SELECT grp.*, {_responder(t)} AS r FROM grp) g GROUP BY product
    ), given AS (
        SELECT g.product, count(DISTINCT i.id) AS injections,
               count(e.id) FILTER (WHERE NOT e.is_serious) AS non_serious,
               count(e.id) FILTER (WHERE e.is_serious) AS serious
        FROM grp g JOIN registry_injection i ON i.plan_id = g.plan_id AND i.status = 'given'
        LEFT JOIN safety_adverseevent e ON e.index_injection_id = i.id
        GROUP BY g.product
    ), further AS (
        SELECT g.product, count(DISTINCT f.plan_id) AS further_any, {kinds}
        FROM grp g JOIN outcomes_furthertreatment f ON f.plan_id = g.plan_id GROUP BY g.product
    )
    SELECT * FROM figures JOIN level USING (product) LEFT JOIN given USING (product)
    LEFT JOIN further USING (product) ORDER BY product
    """  # noqa: S608 - constant names and numbers only; values are parameters


def reference_params(consultation: Consultation, user, today: dt.date) -> dict[str, Any]:
    low, high = next((lo, hi) for lo, hi in AGE_BANDS if lo <= consultation.age_at_consultation <= hi)
    return {
        "kl": list(KL_BANDS[kl_band(consultation.kl_grade)]),
        "age_low": low,
        "age_high": high,
        "user": user.pk,
        "today": today,
        "k": minimum(),
    }


def reference(consultation: Consultation, user, today: dt.date) -> dict[str, dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")  # as the service's aggregates run
        cursor.execute(reference_sql(review_timepoint(consultation.review_after_months)), reference_params(
            consultation, user, today))  # fmt: skip
        names = [c.name for c in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


# --- The same numbers -------------------------------------------------------------------------------------------


def _same(label: str, shown, expected, problems: list[str]) -> None:
    """A figure the service shows (None: withheld for small numbers, not compared) against the reference's."""
    if shown is None:
        return
    expected = 0 if expected is None else expected
    if isinstance(shown, float) or isinstance(expected, float):
        if not math.isclose(float(shown), float(expected), rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{label}: service {shown!r}, SQL {expected!r}")
    elif shown != expected:
        problems.append(f"{label}: service {shown!r}, SQL {expected!r}")


def compare(result: dict[str, Any], sql: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Every figure the service shows against the reference; raises AssertionError listing any difference.
    Returns how many options and figures were compared."""
    problems: list[str] = []
    compared = 0
    for option in result["options"]:
        product = option["product"]
        row = sql.get(product)
        if not option["enough"]:
            if row is not None and row["level"] is not None:
                problems.append(f"{product}: service says not enough data, SQL chose level {row['level']}")
            continue
        if row is None:
            problems.append(f"{product}: shown by the service, absent from the SQL")
            continue
        # The profile has a KL grade and an age: level 0 is the same bands, 1 any age, 2 any grade.
        if len(option["widened"]) != row["level"]:
            problems.append(f"{product}: service widened {option['widened']}, SQL chose level {row['level']}")
        figures = [
            ("due", option["due"]["n"], row["due"]),
            ("heard back", option["heard_back"]["n"], row["heard"]),
            ("responders", option["responders"]["n"], row["responders"]),
            ("decided", option["responders"]["N"], row["decided"]),
            ("further treatment", option["further_treatment"]["any"]["n"], row["further_any"]),
        ]
        for m in option["measures"]:
            column = BY_NAME[m["measure"]].column
            n = row[f"{column}_n"]
            figures += [
                (f"{column} compared", m["compared"]["n"], n),
                (f"{column} improved", m["improved"]["n"], row[f"{column}_mcid"]),
                (f"{column} same or worse", m["same_or_worse"]["n"], row[f"{column}_worse"]),
                (f"{column} mean change", m["change"]["mean"], row[f"{column}_s"] / n if n else None),
            ]
        for kind in option["further_treatment"]["kinds"]:
            figures.append((f"further {kind['kind']}", kind["knees"], row[f"kind_{kind['kind']}"]))
        for ae in option["adverse_events"]["rows"]:
            events = row["serious"] if ae["seriousness"] == "Serious" else row["non_serious"]
            figures += [
                (f"{ae['seriousness']} events", ae["events"], events),
                ("given injections", ae["injections"], row["injections"]),
            ]
        for label, shown, expected in figures:
            _same(f"{product} {label}", shown, expected, problems)
            compared += shown is not None
    if problems:
        raise AssertionError("the hand-written SQL and the service differ:\n" + "\n".join(problems))
    return {"options": sum(o["enough"] for o in result["options"]), "figures": compared}


# --- The step -----------------------------------------------------------------------------------------------------


def run(repeats: int, stats, sign_in) -> dict[str, Any]:
    """p50/p95 of the service, of the API and of the reference, interleaved; ``stats`` and ``sign_in`` are
    bench.steps' helpers."""
    from registry.models import TreatmentPlan

    consultation, user = bench_consultation()
    with connection.cursor() as cursor:
        # As autovacuum would soon after a bulk load: the summary rows were just rebuilt, and seed_demo wrote the
        # adverse events without analysing them. Both the service and the reference read them.
        cursor.execute("ANALYZE outcomes_planoutcome")
        cursor.execute("ANALYZE safety_adverseevent")
    today = timezone.localdate()
    result = consultation_expectation(consultation, user)
    checked = compare(result, reference(consultation, user, today))
    client = Client(HTTP_HOST="127.0.0.1")
    sign_in(client, user)
    path = f"/api/v1/consultations/{consultation.pk}/expectation/"

    def api():
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")

    runs = {
        "service": lambda: consultation_expectation(consultation, user),
        "api": api,
        "sql": lambda: reference(consultation, user, today),
    }
    times = interleaved(runs, repeats)
    [proposed] = [o for o in result["options"] if o["product"] == consultation.proposed_product]
    return {
        "plans": TreatmentPlan.objects.count(),
        "timepoint": result["timepoint"],
        "proposed_enough": proposed["enough"],
        "proposed_due": proposed.get("due", {}).get("n"),
        "proposed_widened": proposed["widened"],
        "checked": checked,
        **{name: stats(values) for name, values in times.items()},
    }


def interleaved(runs: dict[str, Any], repeats: int) -> dict[str, list[float]]:
    """Milliseconds of each run, ``repeats`` rounds of all of them in turn (the order rotating every round) after
    one warm-up round: on a shared machine a burst of load then slows all three alike, not whichever ran then."""
    for run_ in runs.values():
        run_()
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            started = time.perf_counter()
            runs[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return times

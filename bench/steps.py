"""Benchmark steps that run inside Django (`python -m bench.steps <step> [options]`), each printing one JSON object.

`bench/run.py` calls these in subprocesses with DJANGO_SETTINGS_MODULE=bench.settings against the bench database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import expectation_bench, export_bench  # noqa: E402
from bench.views import CREATE_TABLE  # noqa: E402
from demo import synth  # noqa: E402
from outcomes.measures import OUTCOME_MEASURES  # noqa: E402
from outcomes.models import FollowUp, FollowUpStatus, QuestionnaireLink, Timepoint  # noqa: E402
from outcomes.models.questionnaire import LinkChannel, hash_token  # noqa: E402
from registry.models import Clinic, Patient, TreatmentPlan  # noqa: E402

CSRF_SECRET = "benchbenchbenchbenchbenchbench12"  # 32 characters: a valid CSRF cookie secret and form field
BENCH_CLINIC = "Bench submissions clinic"
FILLER_CLINIC = "Bench filler clinic"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- submission: mint links ------------------------------------------------------------------------------------


BENCH_NUMBER_PREFIX = "KR-BNCH-"


def bench_registry_numbers(count: int) -> list[str]:
    """The next `count` bench registry numbers, counting on from the highest already stored: unique by
    construction (24 random bits collided in one of two runs at 800 patients)."""
    numbers = Patient.objects.filter(registry_number__startswith=BENCH_NUMBER_PREFIX).values_list(
        "registry_number", flat=True
    )
    start = max((int(n.removeprefix(BENCH_NUMBER_PREFIX), 16) for n in numbers), default=0) + 1
    return [f"{BENCH_NUMBER_PREFIX}{n:06X}" for n in range(start, start + count)]


def mint(count: int, out: Path) -> dict:
    """`count` open one-month follow-ups, each with a fresh link; tokens to out/tokens.txt and a full
    KOOS+OKS+VAS+PGA+safety form (with the CSRF field) to out/body.txt."""
    out.mkdir(parents=True, exist_ok=True)
    today = timezone.localdate()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(CREATE_TABLE)
        clinic, _ = Clinic.objects.get_or_create(name=BENCH_CLINIC, defaults={"link_requires_year_of_birth": False})
        patients = synth.TableWriter(
            Patient,
            ["clinic_id", "registry_number", "year_of_birth", "sex", "consent_on", "consent_version", "created_at"],
        )
        plans = synth.TableWriter(TreatmentPlan, ["patient_id", "knee", "product", "planned_injections", "created_at"])
        follow_ups = synth.TableWriter(
            FollowUp,
            [
                "plan_id",
                "patient_id",
                "clinic_id",
                "timepoint",
                "opens_on",
                "due_on",
                "closes_on",
                "status",
                "status_changed_at",
                "created_at",
            ],
        )
        links = synth.TableWriter(
            QuestionnaireLink, ["follow_up_id", "token_hash", "channel", "created_at", "expires_at"]
        )
        now = timezone.now()
        expires = now + dt.timedelta(days=30)
        tokens = []
        patient_ids = [
            patients.add(clinic.pk, number, 1960, "unknown", today, "bench", now)
            for number in bench_registry_numbers(max(1, count // 50))
        ]
        for index in range(count):
            patient_id = patient_ids[index % len(patient_ids)]
            plan_id = plans.add(patient_id, "left", "prp", 1, now)
            follow_up_id = follow_ups.add(
                plan_id,
                patient_id,
                clinic.pk,
                Timepoint.ONE_MONTH,
                today - dt.timedelta(days=3),
                today,
                today + dt.timedelta(days=21),
                FollowUpStatus.OPEN,
                now,
                now,
            )
            token = secrets.token_urlsafe(32)
            links.add(follow_up_id, hash_token(token), LinkChannel.EMAIL, now, expires)
            tokens.append(token)
        for writer in (patients, plans, follow_ups, links):
            writer.flush()
            writer.reset_sequence()
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n")
    form = synth.prom_form(random.Random(8), 0.6)
    form |= {f"SAFETY.{code}": "no" for code in synth.SAFETY_YES if code != "harvest_site_problem"}
    form["SAFETY.other"] = ""
    # Further treatment since the injection (asked at every follow-up after baseline): none, occasional pain
    # medicine, home exercises.
    form |= {"FURTHER.injection": "no", "FURTHER.surgery": "no", "FURTHER.pain_medicine": "1"}
    form["FURTHER.physiotherapy"] = "1"
    form["csrfmiddlewaretoken"] = CSRF_SECRET
    (out / "body.txt").write_text(urllib.parse.urlencode(form))
    return {"links": count, "fields": len(form)}


def check_submit(out: Path) -> dict:
    """One real submission through the test client with the same body and cookie wrk sends: it must redirect."""
    token = (out / "tokens.txt").read_text().split()[-2]
    client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF_SECRET
    body = (out / "body.txt").read_text()
    response = client.post(f"/q/{token}/", body, content_type="application/x-www-form-urlencoded")
    return {"status": response.status_code, "location": response.get("Location", "")}


# --- dashboard -------------------------------------------------------------------------------------------------

MEASURES = tuple(m.column for m in OUTCOME_MEASURES)  # the dashboard's measures


def dashboard_sql() -> str:
    """The hand-written equivalent of the dashboard's aggregate: per KL grade, product and timepoint, follow-up
    status counts and n / sum / sum of squares of every score and of its change from the same plan's baseline,
    over plans whose first injection was given to consenting patients."""
    parts = []
    for m in MEASURES:
        parts += [
            f"count(s.{m})",
            f"sum(s.{m})",
            f"sum(s.{m} * s.{m})",
            f"count(s.{m} - b.{m})",
            f"sum(s.{m} - b.{m})",
            f"sum((s.{m} - b.{m}) * (s.{m} - b.{m}))",
        ]
    return f"""
        SELECT i.kl_grade, p.product, f.timepoint, count(*),
               count(*) FILTER (WHERE f.status = 'completed'),
               count(*) FILTER (WHERE f.status = 'missed'),
               count(*) FILTER (WHERE f.status = 'open' AND f.due_on < CURRENT_DATE),
               count(*) FILTER (WHERE f.status = 'scheduled' OR (f.status = 'open' AND f.due_on >= CURRENT_DATE)),
               count(*) FILTER (WHERE f.status = 'cancelled'),
               {", ".join(parts)}
        FROM registry_treatmentplan p
        JOIN registry_injection i ON i.plan_id = p.id AND i.number_in_plan = 1 AND i.status = 'given'
        JOIN registry_patient pt ON pt.id = p.patient_id AND pt.consent_registry
        JOIN outcomes_followup f ON f.plan_id = p.id
        LEFT JOIN outcomes_submission s ON s.follow_up_id = f.id
        LEFT JOIN outcomes_followup bf ON bf.plan_id = p.id AND bf.timepoint = 'baseline'
        LEFT JOIN outcomes_submission b ON b.follow_up_id = bf.id AND f.timepoint <> 'baseline'
        GROUP BY 1, 2, 3
    """  # noqa: S608 - constant names only


# The summary's other aggregates, as hand-written: early safety-check completion, and adverse events per product
# and seriousness with the given injections they are counted against (over the same plans as dashboard_sql).
_COHORT = """
    SELECT p.id FROM registry_treatmentplan p
    JOIN registry_injection i ON i.plan_id = p.id AND i.number_in_plan = 1 AND i.status = 'given'
    JOIN registry_patient pt ON pt.id = p.patient_id AND pt.consent_registry
"""
SAFETY_CHECK_SQL = f"""
    SELECT f.timepoint, count(*), count(*) FILTER (WHERE f.status = 'completed'),
           count(*) FILTER (WHERE f.status = 'missed'),
           count(*) FILTER (WHERE f.status = 'open' AND f.due_on < CURRENT_DATE)
    FROM outcomes_followup f WHERE f.timepoint IN ('d3', 'd12') AND f.plan_id IN ({_COHORT}) GROUP BY 1
"""  # noqa: S608 - constant
ADVERSE_EVENT_SQL = [
    f"""SELECT i.product, e.is_serious, count(*) FROM safety_adverseevent e
        JOIN registry_injection i ON i.id = e.index_injection_id
        WHERE i.status = 'given' AND i.plan_id IN ({_COHORT}) GROUP BY 1, 2""",  # noqa: S608 - constant
    f"""SELECT i.product, count(*) FROM registry_injection i
        WHERE i.status = 'given' AND i.plan_id IN ({_COHORT}) GROUP BY 1""",  # noqa: S608 - constant
]

ADJUSTED_TIMEPOINTS = {"m1": "1m", "m6": "6m", "m12": "12m", "m24": "24m"}


def adjusted_sql() -> str:
    """The hand-written equivalent of the adjusted comparison's aggregate (outcomes.analysis.adjusted): per
    product, KL grade, sex and whether age and BMI are recorded, for every follow-up and measure, the count of
    knees scored at baseline and then, and the sums of baseline, follow-up, age and BMI and of each product of
    two, over the same plans as ``dashboard_sql``."""
    parts = []
    for t in ADJUSTED_TIMEPOINTS:
        for m in MEASURES:
            scored = f"FILTER (WHERE b.{m} IS NOT NULL AND {t}.{m} IS NOT NULL)"
            values = {"b": f"b.{m}", "y": f"{t}.{m}", "age": "i.age_at_injection::float", "bmi": "i.bmi::float"}
            names = list(values)
            parts.append(f"count(*) {scored}")
            parts += [f"sum({values[v]}) {scored}" for v in names]
            parts += [f"sum({values[v]} * {values[w]}) {scored}" for k, v in enumerate(names) for w in names[k:]]
    joins = "".join(
        f"""
        LEFT JOIN outcomes_followup f_{t} ON f_{t}.plan_id = p.id AND f_{t}.timepoint = '{tp}'
        LEFT JOIN outcomes_submission {t} ON {t}.follow_up_id = f_{t}.id"""
        for t, tp in ADJUSTED_TIMEPOINTS.items()
    )
    return f"""
        SELECT p.product, i.kl_grade, pt.sex, (i.age_at_injection IS NOT NULL AND i.bmi IS NOT NULL),
               {", ".join(parts)}
        FROM registry_treatmentplan p
        JOIN registry_injection i ON i.plan_id = p.id AND i.number_in_plan = 1 AND i.status = 'given'
        JOIN registry_patient pt ON pt.id = p.patient_id AND pt.consent_registry
        LEFT JOIN outcomes_followup fb ON fb.plan_id = p.id AND fb.timepoint = 'baseline'
        LEFT JOIN outcomes_submission b ON b.follow_up_id = fb.id{joins}
        GROUP BY 1, 2, 3, 4
    """  # noqa: S608 - constant names only


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm: connection, compiled SQL, templates
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _stats(times: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1), "n": len(times)}


def sign_in(client: Client, user) -> None:
    """A signed-in session without the login signal (force_login sends it with a request that has no address,
    which the sign-in throttle cannot store on PostgreSQL)."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key


def dashboard(repeats: int) -> dict:
    """p50/p95 of the dashboard page and of /api/v1/outcomes/summary/ for an administrator (every clinic), with
    the summary cache off (every request computes), next to the hand-written SQL; and the cached page."""
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    client = Client(HTTP_HOST="127.0.0.1")
    sign_in(client, admin)
    settings.DASHBOARD_CACHE_SECONDS = 0

    def get(path):
        def run():
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")

        return run

    # After seed_demo every plan is queued for the per-plan summary: rebuild it once, as the beat task would have.
    from outcomes.analysis import plan_outcomes

    started = time.perf_counter()
    rebuilt = plan_outcomes.refresh()
    rebuild_seconds = round(time.perf_counter() - started, 2)
    sql, adjusted = [dashboard_sql(), SAFETY_CHECK_SQL, *ADVERSE_EVENT_SQL], adjusted_sql()

    def run_sql(*statements):
        def run():
            with connection.cursor() as cursor:
                cursor.execute("SET jit = off")  # as the page's aggregates run
                for statement in statements:
                    cursor.execute(statement)
                    cursor.fetchall()

        return run

    result = {
        "plans": TreatmentPlan.objects.count(),
        "summary_rebuilt_plans": rebuilt,
        "summary_rebuild_seconds": rebuild_seconds,
        "page": _stats(_timed(get("/dashboard/outcomes/"), repeats)),
        "api": _stats(_timed(get("/api/v1/outcomes/summary/"), repeats)),
        # The summary API runs the summary's aggregates; the page those and the adjusted comparison's.
        "sql": _stats(_timed(run_sql(*sql), repeats)),
        "sql_with_adjusted": _stats(_timed(run_sql(*sql, adjusted), repeats)),
    }
    settings.DASHBOARD_CACHE_SECONDS = 60
    result["page_cached"] = _stats(_timed(get("/dashboard/outcomes/"), repeats))
    return result


# --- sweep -----------------------------------------------------------------------------------------------------


def pad_follow_ups(total: int, due: int) -> dict:
    """Bring the registry to `total` follow-ups with SQL, `due` of them scheduled and due to open today: filler
    plans (three follow-ups each, long answered or missed, some scheduled months ahead) in a filler clinic. Its
    patients may be reached on both channels (email, and texts to a valid UK mobile number), the clinic's default,
    so the follow-ups due write rows on both."""
    existing = FollowUp.objects.count()
    plans_needed = max(due, -(-(total - existing) // 3))  # at least one plan per due follow-up
    if connection.vendor != "postgresql":
        raise SystemExit("pad_follow_ups needs PostgreSQL")
    with transaction.atomic(), connection.cursor() as cursor:
        clinic, _ = Clinic.objects.update_or_create(name=FILLER_CLINIC, defaults={"default_channels": "both"})
        # 07700 900000-900999: Ofcom's numbers for drama, valid mobiles that reach nobody.
        cursor.execute(
            """
            INSERT INTO registry_patient (clinic_id, registry_number, full_name, email, phone, year_of_birth, sex,
                consent_on, consent_version, consent_registry, consent_email_contact, consent_sms_contact,
                phone_invalid_reason, preferred_language, withdrawal_decision, withdrawal_reason, created_at,
                updated_at)
            SELECT %s, 'KR-FILL-' || lpad(g::text, 6, '0'), '', 'filler' || g || '@example.org',
                '+447700900' || lpad((g %% 1000)::text, 3, '0'), 1960, 'unknown', CURRENT_DATE - 800, 'bench-filler',
                true, true, true, '', '', '', '', now(), now()
            FROM generate_series(1, 2000) g
            ON CONFLICT (registry_number) DO NOTHING
            """,
            [clinic.pk],
        )
        cursor.execute(
            "SELECT min(id), count(*) FROM registry_patient WHERE consent_version = 'bench-filler' AND clinic_id = %s",
            [clinic.pk],
        )
        first_patient, patients = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO registry_treatmentplan (patient_id, knee, product, planned_injections, created_at)
            SELECT %s + (g %% %s), 'left', 'prp', 1, now() FROM generate_series(1, %s) g
            """,
            [first_patient, patients, plans_needed],
        )
        # Per plan g (1-based): an injection day between 2 and 3 years ago; the first `due` plans' 1-month
        # follow-ups are scheduled with a window opening yesterday; 1 in 10 6-month ones scheduled months ahead.
        cursor.execute(
            """
            WITH filler AS (
                SELECT id, patient_id, row_number() OVER (ORDER BY id) AS g
                FROM registry_treatmentplan
                WHERE patient_id IN (SELECT id FROM registry_patient WHERE clinic_id = %(clinic)s)
                  AND NOT EXISTS (SELECT 1 FROM outcomes_followup f WHERE f.plan_id = registry_treatmentplan.id)
            ), rows AS (
                SELECT p.id AS plan_id, p.patient_id, t.tp,
                       CASE WHEN t.tp = '1m' AND p.g <= %(due)s THEN 'due'
                            WHEN t.tp = '6m' AND p.g %% 10 = 0 THEN 'ahead'
                            WHEN (p.g + t.k) %% 4 = 0 THEN 'missed' ELSE 'completed' END AS kind,
                       CURRENT_DATE - 730 - (p.g %% 365)::int + t.months * 30 AS due_on
                FROM filler p CROSS JOIN (VALUES ('baseline', 0, 0), ('1m', 1, 1), ('6m', 2, 6)) t(tp, k, months)
            )
            INSERT INTO outcomes_followup (plan_id, patient_id, clinic_id, timepoint, opens_on, due_on, closes_on,
                                           status, status_changed_at, cancelled_reason, created_at)
            SELECT plan_id, patient_id, %(clinic)s, tp,
                   CASE kind WHEN 'due' THEN CURRENT_DATE - 1 WHEN 'ahead' THEN CURRENT_DATE + 60
                        ELSE due_on - 3 END,
                   CASE kind WHEN 'due' THEN CURRENT_DATE + 2 WHEN 'ahead' THEN CURRENT_DATE + 63 ELSE due_on END,
                   CASE kind WHEN 'due' THEN CURRENT_DATE + 23 WHEN 'ahead' THEN CURRENT_DATE + 84
                        ELSE due_on + 21 END,
                   CASE kind WHEN 'due' THEN 'scheduled' WHEN 'ahead' THEN 'scheduled' ELSE kind END,
                   now(), '', now()
            FROM rows
            """,
            {"clinic": clinic.pk, "due": due},
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outcomes_followup")
        cursor.execute("ANALYZE registry_treatmentplan")
    today = timezone.localdate()
    return {
        "follow_ups": FollowUp.objects.count(),
        "due": FollowUp.objects.filter(status=FollowUpStatus.SCHEDULED, opens_on__lte=today).count(),
    }


def sweep() -> dict:
    """One follow-up sweep: open what is due, write its outbox rows, claim them and hand them to workers in
    batches on the broker (the bench queue; the sends themselves are not part of it). Then purge that queue."""
    # A beat-driven worker is long-lived: its imports, broker and database connections are warm.
    import notifications.tasks  # noqa: F401
    from config.celery import app
    from notifications.services import followups_sweep

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
    FollowUp.objects.exists()
    from notifications.models import MessageStatus, OutboundMessage

    before = OutboundMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = followups_sweep()
        seconds = time.perf_counter() - started
    written = OutboundMessage.objects.filter(id__gt=before).order_by()
    rows = dict(written.values_list("channel").annotate(n=Count("id")))
    claimed = dict(written.filter(status=MessageStatus.SENDING).values_list("channel").annotate(n=Count("id")))
    with app.connection_for_write() as conn:
        purged = conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    return {
        "seconds": round(seconds, 3),
        "queries": len(queries.captured_queries),
        "opened": report.opened,
        "invitations": report.invitations,
        "reminders": report.reminders,
        "claimed": report.claimed,
        # Rows the sweep wrote per channel (invitations due now, reminders for later) and claimed per channel.
        "rows_email": rows.get("email", 0),
        "rows_sms": rows.get("sms", 0),
        "claimed_email": claimed.get("email", 0),
        "claimed_sms": claimed.get("sms", 0),
        "batches": report.batches,
        "enqueue_failed": report.enqueue_failed,
        "purged_tasks": purged,
        "follow_ups": FollowUp.objects.count(),
    }


STEPS = {
    "mint": lambda a: mint(a.count, Path(a.out)),
    "check_submit": lambda a: check_submit(Path(a.out)),
    "dashboard": lambda a: dashboard(a.repeats),
    "pad_follow_ups": lambda a: pad_follow_ups(a.total, a.due),
    "sweep": lambda a: sweep(),
    "export": lambda a: export_bench.run(a.count),
    "expectation": lambda a: expectation_bench.run(a.repeats, _stats, sign_in),
}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.steps")
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--out", default="var/bench")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(json.dumps(STEPS[args.step](args)))


if __name__ == "__main__":
    main(sys.argv[1:])

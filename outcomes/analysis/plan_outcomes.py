"""Keeps outcomes.models.PlanOutcome (the dashboard's per-plan summary) in step with follow-ups and submissions.

Triggers queue the plan of every change; ``refresh`` rebuilds the queued plans' rows with one INSERT ... SELECT
per batch (the live join of ``outcome_rows``, the same SQL the summary used to run on every request), then
removes exactly the queue rows it read. A change committed while a batch is being rebuilt keeps its own queue row,
so it is rebuilt next time: nothing is lost between reading the queue and clearing it.

Each rebuild also bumps the data version (outcomes.models.ClinicDataVersion) of every clinic whose plans it rebuilt,
in the same transaction, so a cached summary of those clinics is never served after the change it missed.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from outcomes.analysis.cohort import follow_up_joins
from outcomes.analysis.expressions import row_aliases
from outcomes.models import ClinicDataVersion, PlanOutcome, PlanOutcomeQueue
from registry.models import Clinic, TreatmentPlan

BATCH = 1000  # plans per statement: well inside SQLite's limit on bound parameters
# From this many queued plans on, one statement rebuilds every plan (cheaper than many batches).
FULL_REBUILD_FROM = 20_000


# Summary column -> where it comes from on a plan.
_SOURCES = {
    "clinic_id": "patient__clinic_id",
    "product": "product",
    "planned_injections": "planned_injections",
    "kl_grade": "first__kl_grade",
    "clinician_id": "first__clinician_id",
    "first_product": "first__product",
    "age_at_injection": "first__age_at_injection",
    "bmi": "first__bmi",
    "sex": "patient__sex",
}


def _columns() -> list[str]:
    """The summary's columns after plan_id, in the order ``live_rows`` selects them."""
    return [*_SOURCES, *row_aliases()]


def live_rows(plan_ids: list[int] | None):
    """What the summary rows of these plans (every plan when None) must hold, read from the live tables: plan_id
    then ``_columns()``, by position (some names are prefixed, where they would clash with the plan's fields)."""
    sources = {f"src_{name}": F(path) for name, path in _SOURCES.items()}
    return follow_up_joins(plan_ids).values(plan_id=F("pk"), **sources, **row_aliases())


def _clinics_of(plan_ids: list[int]) -> list[int]:
    rows = PlanOutcome.objects.filter(plan_id__in=plan_ids, clinic_id__isnull=False)
    return list(rows.values_list("clinic_id", flat=True).distinct())


def _bump_versions(clinics) -> None:
    """One more data version for each clinic in ``clinics`` (a queryset of clinic ids; a row is created at a
    clinic's first change), in one statement."""
    select_sql, params = Clinic.objects.filter(pk__in=clinics).values_list("pk").query.sql_with_params()
    table = connection.ops.quote_name(ClinicDataVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # "WHERE true": SQLite would read ON CONFLICT as part of the SELECT's join otherwise.
            f"INSERT INTO {table} (clinic_id, version) SELECT src.*, 1 FROM ({select_sql}) src WHERE true "  # noqa: S608
            f"ON CONFLICT (clinic_id) DO UPDATE SET version = {table}.version + 1",
            params,
        )


def _rebuild(plan_ids: list[int] | None) -> None:
    """Rebuild the rows of these plans (of every plan when None), in one INSERT ... SELECT, and bump the data
    version of their clinics: the clinic a row named before (a plan that moved or went) and the one it names now."""
    before = _clinics_of(plan_ids) if plan_ids is not None else []
    columns = _columns()
    select_sql, params = live_rows(plan_ids).query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(PlanOutcome._meta.db_table)
    names = ", ".join(quote(c) for c in ["plan_id", *columns, "refreshed_at"])
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in [*columns, "refreshed_at"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT src.*, CURRENT_TIMESTAMP FROM ({select_sql}) src WHERE true "  # noqa: S608 - names from the model
            f"ON CONFLICT (plan_id) DO UPDATE SET {updates}",
            params,
        )
    # A plan that no longer exists leaves nothing behind.
    gone = PlanOutcome.objects.exclude(Exists(TreatmentPlan.objects.filter(pk=OuterRef("plan_id"))))
    (gone.filter(plan_id__in=plan_ids) if plan_ids is not None else gone).delete()
    if plan_ids is None:
        _bump_versions(Clinic.objects.values("pk"))
    else:
        now = PlanOutcome.objects.filter(plan_id__in=plan_ids).values("clinic_id")
        _bump_versions(Clinic.objects.filter(Q(pk__in=before) | Q(pk__in=now)).values("pk"))


def refresh(*, limit: int | None = None) -> int:
    """Rebuild the summary rows of queued plans, ``limit`` plans at most (all when None). Returns how many
    plans were rebuilt. A long queue (a bulk import, a restore) is handled in one statement over every plan.

    Queue rows are deleted first, then the plans rebuilt, in one transaction: the rebuild reads every change
    whose queue row was deleted (committed before the delete), and a change committed later keeps its own row."""
    queue = PlanOutcomeQueue.objects
    # Every dashboard load asks, and the queue is usually empty: one query answers that and whether it is long.
    queued = queue.values("plan_id").distinct()[:FULL_REBUILD_FROM].count()
    if not queued:
        return 0
    if limit is None and queued >= FULL_REBUILD_FROM:
        with transaction.atomic():
            queue.all().delete()
            _rebuild(None)
        return TreatmentPlan.objects.count()
    rebuilt = 0
    while limit is None or rebuilt < limit:
        size = BATCH if limit is None else min(BATCH, limit - rebuilt)
        with transaction.atomic():
            plan_ids = list(queue.order_by("plan_id").values_list("plan_id", flat=True).distinct()[:size])
            if not plan_ids:
                break
            queue.filter(plan_id__in=plan_ids).delete()
            _rebuild(plan_ids)
        rebuilt += len(plan_ids)
        if len(plan_ids) < size:
            break  # the queue held no more (a plan queued since waits for the next refresh)
    return rebuilt


def rebuild_all() -> int:
    """Rebuild every plan's row (after a restore, or to check the triggers: the rows must not change)."""
    with transaction.atomic():
        _rebuild(None)
    return TreatmentPlan.objects.count()


def differences() -> list[int]:
    """Plans whose summary row is missing, extra or differs from the live join (queued changes not yet rebuilt
    count as differences). Compared in the database, a plan at a time never reaching Python."""
    live_sql, params = live_rows(None).query.sql_with_params()
    quote = connection.ops.quote_name
    stored = ", ".join(["plan_id", *(quote(c) for c in _columns())])
    table = quote(PlanOutcome._meta.db_table)
    sql = (
        f"SELECT plan_id FROM (SELECT * FROM ({live_sql}) l EXCEPT SELECT {stored} FROM {table}) a "  # noqa: S608
        f"UNION SELECT plan_id FROM (SELECT {stored} FROM {table} EXCEPT SELECT * FROM ({live_sql}) l) b "
        "ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *params])
        return [row[0] for row in cursor.fetchall()]


def summary_rows(plan_ids) -> QuerySet[PlanOutcome]:
    """The summary rows of the plans in ``plan_ids``: the columns ``row_aliases`` names are plain fields here, so
    every expression of outcomes.analysis.expressions reads them as it reads ``outcome_rows``, with no join."""
    return PlanOutcome.objects.filter(plan_id__in=plan_ids)


__all__ = ["differences", "live_rows", "rebuild_all", "refresh", "summary_rows"]

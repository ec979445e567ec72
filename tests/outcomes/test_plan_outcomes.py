"""The dashboard's per-plan summary (outcomes.models.PlanOutcome): every write path queues its plan (database
triggers, so bulk updates and raw SQL too), and a rebuilt summary equals the live join it replaces."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection

from outcomes.analysis import plan_outcomes, summary
from outcomes.analysis.cohort import cohort
from outcomes.analysis.expressions import row_aliases
from outcomes.models import FollowUp, FollowUpStatus, PlanOutcome, PlanOutcomeQueue, Submission
from outcomes.sqlite_triggers import triggers_drop
from outcomes.tasks import refresh_plan_outcomes
from registry.models import Injection, TreatmentPlan
from tests.outcomes.analysis_data import make_plan


def live_rows(plan_ids) -> dict[int, dict]:
    """What the summary must hold, read straight from the live tables."""
    return {
        r.pop("plan_id"): {k.removeprefix("src_"): v for k, v in r.items()} for r in plan_outcomes.live_rows(plan_ids)
    }


def summary_rows(plan_ids) -> dict[int, dict]:
    names = [*plan_outcomes._SOURCES, *row_aliases()]
    return {r.pop("plan_id"): r for r in PlanOutcome.objects.filter(plan_id__in=plan_ids).values("plan_id", *names)}


@pytest.fixture
def plans(clinic, clinician):
    """Plans in every state: both questionnaires answered, one missed, one open and overdue, staged, KL 4."""
    made = [
        make_plan(clinic, clinician, scores={"baseline": {"pain": 40, "adl": 50, "vas": 60}, "1m": {"pain": 70}}),
        make_plan(clinic, clinician, scores={"baseline": {"pain": 30}}, kl_grade=4),
        make_plan(
            clinic,
            clinician,
            scores={"baseline": {"oks": 20}},
            statuses={"1m": FollowUpStatus.OPEN},
            due={"1m": dt.date(2026, 1, 10)},
        ),
        make_plan(clinic, clinician),  # nothing answered
    ]
    return [p.pk for p in made]


def test_a_rebuilt_summary_equals_the_live_rows(plans):
    plan_outcomes.refresh()
    assert not PlanOutcomeQueue.objects.exists()
    assert summary_rows(plans) == live_rows(plans)
    assert summary_rows(plans)[plans[0]]["m1_koos_pain"] == 70
    assert summary_rows(plans)[plans[1]]["kl_grade"] == 4


def _raw(sql: str, params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Each changes something the summary holds, by a path that sends no Django signal.
WRITES = {
    "follow-up status, bulk update": lambda plan: FollowUp.objects.filter(plan_id=plan, timepoint="6m").update(
        status=FollowUpStatus.CANCELLED
    ),
    "follow-up due date, raw SQL": lambda plan: _raw(
        "UPDATE outcomes_followup SET opens_on = %s, due_on = %s, closes_on = %s"
        " WHERE plan_id = %s AND timepoint = '6m'",
        [dt.date(2030, 1, 1)] * 3 + [plan],
    ),
    "submission score, bulk update": lambda plan: Submission.objects.filter(follow_up__plan_id=plan).update(
        koos_pain=11.0
    ),
    "first injection KL grade, bulk update": lambda plan: Injection.objects.filter(
        plan_id=plan, number_in_plan=1
    ).update(kl_grade=3),
    "plan product, bulk update": lambda plan: TreatmentPlan.objects.filter(pk=plan).update(product="ha"),
    "patient clinic, raw SQL": lambda plan: _raw(
        "UPDATE registry_patient SET clinic_id = clinic_id WHERE id = (SELECT patient_id FROM registry_treatmentplan"
        " WHERE id = %s)",
        [plan],
    ),
    "submission deleted, raw SQL": lambda plan: _raw(
        "DELETE FROM outcomes_submission WHERE follow_up_id IN (SELECT id FROM outcomes_followup WHERE plan_id = %s)",
        [plan],
    ),
}


@pytest.mark.parametrize("name", WRITES)
def test_every_write_path_queues_its_plan_and_the_rebuild_follows_it(plans, name):
    plan_outcomes.refresh()
    plan = plans[0]
    before = summary_rows([plan])

    WRITES[name](plan)

    assert set(PlanOutcomeQueue.objects.values_list("plan_id", flat=True)) == {plan}
    assert plan_outcomes.refresh() == 1
    after = summary_rows([plan])
    assert after == live_rows([plan])
    if name != "patient clinic, raw SQL":  # that update changes no value: queued all the same
        assert after != before


def test_a_new_plan_and_a_deleted_plan(clinic, clinician, plans):
    plan_outcomes.refresh()
    new = make_plan(clinic, clinician, scores={"baseline": {"pain": 55}})
    assert plan_outcomes.refresh() == 1
    assert summary_rows([new.pk])[new.pk]["b_koos_pain"] == 55
    # Plans are never deleted by the registry, but a summary row must not outlive one that is.
    _raw(
        "DELETE FROM outcomes_submission WHERE follow_up_id IN (SELECT id FROM outcomes_followup WHERE plan_id = %s)",
        [new.pk],
    )
    _raw("DELETE FROM outcomes_followup WHERE plan_id = %s", [new.pk])
    _raw(
        "DELETE FROM registry_injectioncomponent WHERE injection_id IN "
        "(SELECT id FROM registry_injection WHERE plan_id = %s)",
        [new.pk],
    )
    _raw("DELETE FROM registry_injection WHERE plan_id = %s", [new.pk])
    _raw("DELETE FROM registry_treatmentplan WHERE id = %s", [new.pk])
    plan_outcomes.refresh()
    assert not PlanOutcome.objects.filter(plan_id=new.pk).exists()


def test_refresh_limit_and_the_one_statement_rebuild_of_a_long_queue(plans, monkeypatch):
    plan_outcomes.refresh()
    PlanOutcome.objects.all().delete()
    PlanOutcomeQueue.objects.bulk_create([PlanOutcomeQueue(plan_id=p) for p in plans * 2])
    assert plan_outcomes.refresh(limit=2) == 2
    assert PlanOutcome.objects.count() == 2
    assert PlanOutcomeQueue.objects.values("plan_id").distinct().count() == len(plans) - 2
    monkeypatch.setattr(plan_outcomes, "FULL_REBUILD_FROM", 2)
    assert plan_outcomes.refresh() == TreatmentPlan.objects.count()
    assert not PlanOutcomeQueue.objects.exists()
    assert summary_rows(plans) == live_rows(plans)


def test_the_beat_task_empties_the_queue(plans):
    assert PlanOutcomeQueue.objects.exists()
    refresh_plan_outcomes()
    assert not PlanOutcomeQueue.objects.exists()
    assert summary_rows(plans) == live_rows(plans)


def test_the_dashboard_sees_a_change_made_without_signals_at_once(plans, clinician):
    """No beat needed: a summary rebuilds the queued plans before it aggregates."""

    def kl_of_plans() -> dict:
        filterset, clinics = summary.filterset_for(clinician, {"compare_by": "kl_grade"})
        assert filterset.is_valid()
        result = summary.compute(filterset, clinics, today=dt.date(2026, 6, 1))
        return {g["label"]: g["plans"] for g in result["groups"]}

    assert kl_of_plans().get("KL 4") == 1
    Injection.objects.filter(plan_id=plans[1], number_in_plan=1).update(kl_grade=2)
    assert "KL 4" not in kl_of_plans()
    assert cohort(clinician).count() == len(plans)


def test_the_rebuild_command_and_its_check(plans):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("rebuild_outcome_summary", stdout=out)
    assert f"Rebuilt the outcome summary of {len(plans)} plans" in out.getvalue()
    call_command("rebuild_outcome_summary", "--check", stdout=out)
    assert "Every plan summary matches" in out.getvalue()
    # A row edited behind the triggers' back (they watch the sources, not the summary) is caught by --check.
    PlanOutcome.objects.filter(plan_id=plans[0]).update(b_koos_pain=99.0)
    PlanOutcome.objects.filter(plan_id=plans[1]).delete()
    with pytest.raises(CommandError, match="2 plan summaries differ"):
        call_command("rebuild_outcome_summary", "--check")
    assert plan_outcomes.differences() == sorted(plans[:2])
    call_command("rebuild_outcome_summary", stdout=out)
    assert plan_outcomes.differences() == []


def test_a_migrate_puts_back_the_triggers_a_table_rebuild_took(plans):
    # On SQLite a migration that rebuilds a table drops its triggers (and one naming a dropped table breaks the
    # rebuild), so they are set aside for a migrate and put back after it: outcomes.sqlite_triggers. On
    # PostgreSQL triggers_drop has nothing to do and the same assertions hold.
    plan_outcomes.refresh()
    triggers_drop()
    call_command("migrate", verbosity=0)
    if connection.vendor == "sqlite":  # every plan queued once: the migrations may have changed any of them
        assert set(PlanOutcomeQueue.objects.values_list("plan_id", flat=True)) == set(plans)
        plan_outcomes.refresh()

    for name in ("submission score, bulk update", "submission deleted, raw SQL"):
        WRITES[name](plans[0])
        assert set(PlanOutcomeQueue.objects.values_list("plan_id", flat=True)) == {plans[0]}, name
        plan_outcomes.refresh()

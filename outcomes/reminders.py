"""Reminder strategies and the clinic's randomised comparison of two of them.

- ``strategy_for(patient)``: the strategy in force for a patient: their arm's if they were allocated in a
  comparison (kept until their follow-ups end, also after the comparison stopped), else the clinic's default,
  else the global settings (SMS_REMINDER_DAYS; the patient sees their own scores).
- ``comparison_start`` / ``comparison_stop``: the clinic lead's two actions. Both leave rows in the audit trail.
- ``patient_allocate``: at enrolment (registry.services.patient_enrol, through the ``patient_enrolled`` signal)
  a patient of a clinic with a running comparison is given an arm at random, 1:1 in permuted blocks of random
  size. Enrolment is the registration of the patient: it is the one moment every patient passes exactly once, and
  it comes before any questionnaire or reminder, so the arm is known before the first message is planned.

Only reminders and the after-submission score view differ between arms: follow-up windows, scoring and safety
flags never read a strategy.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from outcomes.models import (
    ComparisonArm,
    ReminderAllocation,
    ReminderComparison,
    ReminderStrategy,
)
from registry.choices import Role
from registry.models import Clinic, Patient
from registry.scoping import clinics_for, role_in

BLOCK_SIZES = (2, 4, 6)
# The operating system's generator: nothing (time, patient id, a seed) lets anyone predict the next arm, so
# nobody can steer a patient into an arm by choosing when to enrol them.
_random = secrets.SystemRandom()
METHOD = "Permuted blocks of 2, 4 or 6, size and order drawn by secrets.SystemRandom; 1:1"


@dataclass(frozen=True)
class EffectiveStrategy:
    """What reaches a patient around their questionnaires."""

    name: str
    text_reminder_days: tuple[int, ...]  # () for no text reminders
    show_own_scores: bool
    strategy_id: int | None = None  # None: the global settings
    arm: str | None = None  # "a" or "b" for an allocated patient


def global_text_reminder_days() -> tuple[int, ...]:
    # notifications.conf validates the setting at start-up; this only reads it.
    return tuple(sorted(getattr(settings, "SMS_REMINDER_DAYS", [7, 12])))


GLOBAL_NAME = "Registry default"


def _effective(strategy: ReminderStrategy | None, arm: str | None = None) -> EffectiveStrategy:
    if strategy is None:
        return EffectiveStrategy(GLOBAL_NAME, global_text_reminder_days(), show_own_scores=True)
    return EffectiveStrategy(
        strategy.name,
        text_days_of(strategy.text_reminders, strategy.text_reminder_days),
        strategy.show_own_scores,
        strategy.pk,
        arm,
    )


def text_days_of(text_reminders: bool, days) -> tuple[int, ...]:
    return tuple(sorted(days or ())) if text_reminders else ()


def strategy_for(patient: Patient) -> EffectiveStrategy:
    allocation = ReminderAllocation.objects.filter(patient_id=patient.pk).select_related("strategy").first()
    if allocation is not None:
        return _effective(allocation.strategy, allocation.arm)
    default = ReminderStrategy.objects.filter(clinic_id=patient.clinic_id, is_clinic_default=True).first()
    return _effective(default)


def show_own_scores(patient: Patient) -> bool:
    """Whether the patient may see their own scores after submitting (the thank-you page asks)."""
    return strategy_for(patient).show_own_scores


def with_strategy_id(follow_ups: QuerySet, *, patient_path: str = "patient") -> QuerySet:
    """Annotate ``reminder_strategy_id`` on each follow-up (or any row with a patient): the allocated arm's
    strategy, else the clinic's default, else NULL (the global settings). One join and one subquery, in SQL:
    the sweep plans thousands of follow-ups a minute."""
    default = ReminderStrategy.objects.filter(
        clinic_id=OuterRef(f"{patient_path}__clinic_id"), is_clinic_default=True
    ).values("id")[:1]
    return follow_ups.annotate(
        reminder_strategy_id=Coalesce(F(f"{patient_path}__reminder_allocation__strategy_id"), Subquery(default))
    )


def text_days_by_strategy(strategy_ids) -> dict[int, tuple[int, ...]]:
    """{strategy id: its text reminder days} for the strategies a batch of follow-ups uses: one query."""
    ids = {i for i in strategy_ids if i is not None}
    if not ids:
        return {}
    rows = ReminderStrategy.objects.filter(id__in=ids).values_list("id", "text_reminders", "text_reminder_days")
    return {pk: text_days_of(on, days) for pk, on, days in rows}


# --- Allocation ---------------------------------------------------------------------------------------------------


def next_arm(in_block: list[str], block_size: int, rng=_random) -> str:
    """The next arm of a permuted block: drawn at random from the arms the block still holds (half A, half B).
    Drawing without replacement like this is a uniformly random order of the block."""
    half = block_size // 2
    left = [ComparisonArm.A] * (half - in_block.count(ComparisonArm.A)) + [ComparisonArm.B] * (
        half - in_block.count(ComparisonArm.B)
    )
    if not left:
        raise ValueError("The block is already full.")
    return rng.choice(left)


def running_comparison(clinic_id: int, *, on: dt.date | None = None) -> ReminderComparison | None:
    qs = ReminderComparison.objects.filter(clinic_id=clinic_id, stopped_at__isnull=True)
    if on is not None:
        qs = qs.filter(starts_on__lte=on)
    return qs.first()


def patient_allocate(*, patient: Patient, rng=_random) -> ReminderAllocation | None:
    """Allocate a newly enrolled patient if their clinic runs a comparison that has started (clinic time); else
    nothing. Runs inside the enrolment's transaction; the comparison row is locked, so two enrolments at once
    cannot both take the last place of a block."""
    today = timezone.localdate(timezone=patient.clinic.tzinfo)
    comparison = (
        ReminderComparison.objects.select_for_update()
        .filter(clinic_id=patient.clinic_id, stopped_at__isnull=True, starts_on__lte=today)
        .first()
    )
    if comparison is None:
        return None
    last = comparison.allocations.order_by("-id").values("block", "block_size").first()
    in_block = list(comparison.allocations.filter(block=last["block"]).values_list("arm", flat=True)) if last else []
    if last is None or len(in_block) >= last["block_size"]:
        block, size, in_block = (last["block"] + 1 if last else 1), rng.choice(BLOCK_SIZES), []
    else:
        block, size = last["block"], last["block_size"]
    arm = next_arm(in_block, size, rng)
    allocation = ReminderAllocation(
        comparison=comparison,
        patient=patient,
        clinic_id=patient.clinic_id,
        arm=arm,
        strategy_id=comparison.arm_a_id if arm == ComparisonArm.A else comparison.arm_b_id,
        method=METHOD,
        block=block,
        block_size=size,
    )
    allocation._change_reason = f"Allocated at enrolment: {comparison.question}"[:100]
    allocation.save()
    return allocation


# --- The lead's actions -------------------------------------------------------------------------------------------


def may_run_comparisons(user, clinic: Clinic) -> bool:
    return role_in(user, clinic) == Role.LEAD


def _strategy(clinic: Clinic, data: dict, *, by) -> ReminderStrategy:
    strategy = ReminderStrategy(
        clinic=clinic,
        name=data["name"],
        text_reminders=data.get("text_reminders", True),
        text_reminder_days=sorted(data.get("text_reminder_days") or []),
        show_own_scores=data.get("show_own_scores", True),
    )
    strategy.full_clean()
    strategy._history_user = by
    strategy._change_reason = "Arm of a reminder comparison"
    strategy.save()
    return strategy


@transaction.atomic
def comparison_start(
    *, clinic: Clinic, by, question: str, starts_on: dt.date, arm_a: dict, arm_b: dict
) -> ReminderComparison:
    """Start a comparison of two reminder strategies (each a dict: name, text_reminders, text_reminder_days,
    show_own_scores). Only the clinic's lead may; one runs per clinic at a time."""
    if not may_run_comparisons(by, clinic):
        raise PermissionDenied("Only the clinic lead starts a reminder comparison.")
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": "Say in plain words what the comparison asks."})
    if starts_on < timezone.localdate(timezone=clinic.tzinfo):
        raise ValidationError({"starts_on": "A comparison cannot start in the past."})
    if running_comparison(clinic.pk) is not None:
        raise ValidationError("This clinic already runs a reminder comparison: stop it first.")
    comparison = ReminderComparison(
        clinic=clinic,
        question=question,
        arm_a=_strategy(clinic, arm_a, by=by),
        arm_b=_strategy(clinic, arm_b, by=by),
        starts_on=starts_on,
        created_by=by,
    )
    comparison._history_user = by
    comparison._change_reason = "Reminder comparison started"
    try:
        with transaction.atomic():
            comparison.save()
    except IntegrityError:  # a concurrent start won the one running place
        raise ValidationError("This clinic already runs a reminder comparison: stop it first.") from None
    return comparison


@transaction.atomic
def comparison_stop(*, comparison: ReminderComparison, by, reason: str) -> ReminderComparison:
    """Stop allocating. Allocated patients keep their arm's strategy until their follow-ups end."""
    if not may_run_comparisons(by, comparison.clinic):
        raise PermissionDenied("Only the clinic lead stops a reminder comparison.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the comparison stops."})
    comparison = ReminderComparison.objects.select_for_update().get(pk=comparison.pk)
    if comparison.stopped_at is not None:
        raise ValidationError("This comparison has already stopped.")
    comparison.stopped_at = timezone.now()
    comparison.stopped_by = by
    comparison.stop_reason = reason[:300]
    comparison._history_user = by
    comparison._change_reason = f"Reminder comparison stopped: {reason}"[:100]
    comparison.save(update_fields=["stopped_at", "stopped_by", "stop_reason"])
    return comparison


def comparisons_for(user) -> QuerySet[ReminderComparison]:
    """Comparisons of the clinics the user may read (clinicians, leads, auditors; administrators all)."""
    return ReminderComparison.objects.filter(clinic__in=clinics_for(user).values("id"))

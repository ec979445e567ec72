"""Write paths for further treatments: from a patient's answers, or recorded by a clinician, reconciled so the
same knee, kind and month is one event whoever told us (the sources are marked on it)."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from outcomes.models import FurtherTreatment, FurtherTreatmentKind, Submission
from outcomes.questionnaire import FURTHER
from registry.models import TreatmentPlan

Kind = FurtherTreatmentKind
# The FURTHER questionnaire's answers (outcomes/instruments/further-treatment-1.json): (yes/no item, kind item,
# month item), and each kind option's score -> the event's kind.
QUESTIONS = (
    ("injection", "injection_kind", "injection_month"),
    ("surgery", "surgery_kind", "surgery_month"),
)
KIND_BY_ANSWER = {
    "injection_kind": {1: Kind.STEROID_INJECTION, 2: Kind.HA_INJECTION, 3: Kind.PRP_INJECTION, 4: Kind.OTHER_INJECTION},
    "surgery_kind": {
        1: Kind.ARTHROSCOPY,
        2: Kind.OSTEOTOMY,
        3: Kind.PARTIAL_KNEE_REPLACEMENT,
        4: Kind.TOTAL_KNEE_REPLACEMENT,
        5: Kind.OTHER_SURGERY,
    },
}


def _reconcile(*, plan: TreatmentPlan, kind: str, month: dt.date, source: dict, reason: str) -> FurtherTreatment:
    """The one event for this knee, kind and month, created or with this source added. A second report never
    overwrites the first: it only marks its source and fills what was unknown (the day, the submission)."""
    key = {"patient_id": plan.patient_id, "knee": plan.knee, "kind": kind, "month": month}
    for _ in range(2):  # a concurrent report of the same event wins the insert; the retry then adds to it
        existing = FurtherTreatment.objects.select_for_update().filter(**key).first()
        if existing is None:
            event = FurtherTreatment(plan=plan, **key, **source)
            event._change_reason, event._history_user = reason, source.get("recorded_by")
            try:
                with transaction.atomic():
                    event.save()
                return event
            except IntegrityError:
                continue
        changed = False
        for field, value in source.items():
            if value and not getattr(existing, field):
                setattr(existing, field, value)
                changed = True
        if changed:
            existing._change_reason = f"{reason} (the same event was already known)"
            existing._history_user = source.get("recorded_by")
            existing.save()
        return existing
    raise IntegrityError("further treatment could not be reconciled")  # pragma: no cover - two lost races


def further_treatments_from_submission(submission: Submission) -> list[FurtherTreatment]:
    """The events a submission's FURTHER answers report (none when both answers are no). Called inside the
    submission's transaction, so the answers and their events commit together."""
    given = submission.answers.get(FURTHER) or {}
    plan = submission.follow_up.plan
    events = []
    for asked, kind_item, month_item in QUESTIONS:
        if not (given.get(asked) or {}).get("value"):
            continue
        kind = KIND_BY_ANSWER[kind_item][given[kind_item]["value"]]
        month = dt.date.fromisoformat(given[month_item]["value"] + "-01")
        events.append(
            _reconcile(
                plan=plan,
                kind=kind,
                month=month,
                source={"reported_by_patient": True, "submission": submission},
                reason=f"Reported by the patient ({submission.follow_up.get_timepoint_display()} questionnaire)",
            )
        )
    return events


@transaction.atomic
def further_treatment_record(
    *,
    plan: TreatmentPlan,
    kind: str,
    by,
    on: dt.date,
    month: dt.date | None = None,
    day: dt.date | None = None,
    note: str = "",
) -> FurtherTreatment:
    """A clinician records a further treatment of the plan's knee (the month, or the exact day if known) on `on`
    (the clinic's today). Refused with a clear message when the date is in the future or before the plan began."""
    if kind not in Kind.values:
        raise ValidationError({"kind": "Choose the kind of treatment."})
    if day is not None:
        month = day.replace(day=1)
    if month is None:
        raise ValidationError({"month": "Give the month (or the day) it happened."})
    month = month.replace(day=1)
    first = plan.first_injection
    if (day or month) > on:
        raise ValidationError({"month": "That date is still to come."})
    if first is not None and month < first.injected_on.replace(day=1):
        raise ValidationError({"month": f"That is before this plan's first injection ({first.injected_on:%d %b %Y})."})
    event = _reconcile(
        plan=plan,
        kind=kind,
        month=month,
        source={"recorded_by_clinic": True, "recorded_by": by, "day": day, "recorded_on": on},
        reason="Recorded by the clinic",
    )
    if note and not event.note:
        event.note = note
        event._change_reason, event._history_user = "Note added by the clinic", by
        event.save(update_fields=["note"])
    return event


__all__ = ["further_treatment_record", "further_treatments_from_submission"]

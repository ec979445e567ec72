"""Write paths for adverse events: recording (directly, or from a flag) and correcting with a reason.

Nothing here deletes. Every save carries who and why (django-simple-history's `_history_user` and
`_change_reason`), so the event's page and the exports show each change as before -> after with its reason.
`version` makes a correction conditional on what the clinician saw: a stale form gets VersionConflict (409).
"""

from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from registry.choices import InjectionStatus
from registry.history import one_history_row
from registry.models import Injection, Patient
from registry.scoping import patients_for
from safety import signals
from safety.choices import (
    HARVEST_CATEGORIES,
    HARVEST_RELATEDNESS,
    SERIOUSNESS_FIELDS,
    EventSource,
    FlagStatus,
    Relatedness,
    has_harvest,
)
from safety.models import AdverseEvent, Flag
from safety.services.flags import flag_event_recorded

# What a clinician enters (web form, API); everything else is set here.
EVENT_FIELDS = (
    "source",
    "onset_on",
    "category",
    "description",
    "severity",
    *SERIOUSNESS_FIELDS,
    "causality",
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_on",
    "meddra_code",
    "meddra_version",
)
# A change to any of these is a new assessment: assessed_by/at move to whoever made it.
ASSESSMENT_FIELDS = ("severity", *SERIOUSNESS_FIELDS, "causality", "relatedness", "expectedness")


class VersionConflict(Exception):
    """The event changed since the editor loaded it (someone else saved first)."""

    def __init__(self, *, current_version: int):
        self.current_version = current_version
        super().__init__(
            f"Someone else changed this adverse event while you were editing it (it is now at version "
            f"{current_version}). Reload the event, check their change, then make yours again."
        )


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))


def _check_writer(by, patient: Patient) -> None:
    if not patients_for(by, write=True).filter(pk=patient.pk).exists():
        raise PermissionDenied("Your role in this clinic cannot record or correct adverse events.")


def _check_injections(patient: Patient, injections: list[Injection], data: dict[str, Any]) -> Injection:
    """The injections are the patient's, given, at least one on or before onset; returns the index injection."""
    if not injections:
        raise ValidationError({"injections": "Choose the injection (or injections) the event followed."})
    if any(i.patient_id != patient.pk for i in injections):
        raise ValidationError({"injections": "Every injection must be this patient's."})
    if any(i.status != InjectionStatus.GIVEN for i in injections):
        raise ValidationError({"injections": "Only injections that were given can be linked to an event."})
    onset = data.get("onset_on")
    before = [i for i in injections if onset is None or i.injected_on <= onset]
    if not before:
        raise ValidationError({"onset_on": "The onset is before every chosen injection."})
    # The harvest (bone marrow, fat) can only be blamed where there was one: the choices the product allows.
    if not has_harvest(i.product for i in injections):
        problems = {}
        if data.get("category") in HARVEST_CATEGORIES:
            problems["category"] = "A harvest-site event needs a BMAC or ADSC injection (with a harvest)."
        if data.get("relatedness") in HARVEST_RELATEDNESS:
            problems["relatedness"] = (
                f"“{Relatedness(data['relatedness']).label}” needs a BMAC or ADSC injection (with a harvest); "
                "none of the chosen injections had one."
            )
        if problems:
            raise ValidationError(problems)
    return max(before, key=lambda i: (i.injected_on, i.pk))


def _announce_if_newly_serious(event: AdverseEvent, *, was_serious: bool) -> None:
    if event.is_serious and not was_serious:
        transaction.on_commit(partial(signals.adverse_event_serious.send, sender=AdverseEvent, event=event))


def _save(event: AdverseEvent, *, by, reason: str, injections: list[Injection] | None = None) -> None:
    """Save the event and (when given) link its injections: one audit row holding both, as one action."""
    event.sync_derived()
    event.full_clean(exclude=["injections"])
    event._history_user = by
    event._change_reason = reason
    with one_history_row(event):
        event.save()
        if injections is not None:
            event.injections.set(injections)


@transaction.atomic
def adverse_event_record(*, by, data: dict[str, Any], flag: Flag | None = None) -> AdverseEvent:
    """Record an adverse event: `data` holds `patient`, `injections` and the EVENT_FIELDS.

    Without `patient`, the patient is the flag's, or the injections'. Without `source`, it is "rule" from a flag
    and "clinician" otherwise (as the web form proposes). Recording from a flag moves the flag to "event recorded"
    (in the same transaction). A serious event is announced (adverse_event_serious) once the transaction commits.
    """
    data = dict(data)
    _reject_unknown(data, {"patient", "injections", *EVENT_FIELDS})
    patient: Patient | None = data.pop("patient", None)
    injections = list(data.pop("injections", None) or [])
    if flag is not None:
        if patient is not None and patient.pk != flag.patient_id:
            raise ValidationError({"patient": "The flag is about another patient."})
        patient = flag.patient
    elif patient is None and injections:
        patient = injections[0].patient  # _check_injections refuses injections of several patients
    data.setdefault("source", default_source(flag))
    if patient is None:
        raise ValidationError({"patient": "Choose the patient."})
    _check_writer(by, patient)
    index = _check_injections(patient, injections, data)
    now = timezone.now()
    event = AdverseEvent(
        clinic_id=patient.clinic_id,
        patient=patient,
        index_injection=index,
        flag=flag,
        recorded_by=by,
        recorded_at=now,
        assessed_by=by,
        assessed_at=now,
        **data,
    )
    _save(event, by=by, reason=f"Recorded from flag #{flag.pk}" if flag else "Recorded", injections=injections)
    if flag is not None:
        flag_event_recorded(flag=flag, event=event, by=by)
    _announce_if_newly_serious(event, was_serious=False)
    return event


def default_source(flag: Flag | None) -> str:
    """Who reported the event, unless said: the flag rule for an event recorded from a flag, else the clinician."""
    return EventSource.RULE if flag is not None else EventSource.CLINICIAN


@transaction.atomic
def flag_record_event(*, flag: Flag, by, data: dict[str, Any]) -> AdverseEvent:
    """Triage decision: the flag is an adverse event. Records it and closes the flag as "event recorded"."""
    flag = Flag.objects.select_for_update().select_related("patient").get(pk=flag.pk)
    if not flag.can_transition_to(FlagStatus.EVENT_RECORDED):
        raise ValidationError({"flag": f"This flag is already {flag.get_status_display().lower()}."})
    return adverse_event_record(by=by, data=data, flag=flag)


@transaction.atomic
def adverse_event_correct(
    *, event: AdverseEvent, by, data: dict[str, Any], reason: str, expected_version: int
) -> AdverseEvent:
    """Correct an event. `reason` is required and kept with the change; `expected_version` is the version the
    editor loaded: if someone saved since, VersionConflict, and nothing is written."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the event is being corrected."})
    data = dict(data)
    _reject_unknown(data, {"injections", *EVENT_FIELDS})
    event = AdverseEvent.objects.select_for_update().select_related("patient").get(pk=event.pk)
    _check_writer(by, event.patient)
    if expected_version is None or int(expected_version) != event.version:
        raise VersionConflict(current_version=event.version)
    was_serious = event.is_serious
    injections = data.pop("injections", None)
    current = list(event.injections.all())
    new_injections = list(injections) if injections is not None else current
    merged = {name: data.get(name, getattr(event, name)) for name in ("onset_on", "category", "relatedness")}
    index = _check_injections(event.patient, new_injections, merged)
    changed = [name for name, value in data.items() if getattr(event, name) != value]
    injections_changed = {i.pk for i in new_injections} != {i.pk for i in current}
    if not changed and not injections_changed:
        raise ValidationError("Nothing was changed.")
    for name in changed:
        setattr(event, name, data[name])
    event.index_injection = index
    if any(name in ASSESSMENT_FIELDS for name in changed):
        event.assessed_by = by
        event.assessed_at = timezone.now()
    event.version += 1
    _save(event, by=by, reason=reason, injections=new_injections if injections_changed else None)
    _announce_if_newly_serious(event, was_serious=was_serious)
    return event

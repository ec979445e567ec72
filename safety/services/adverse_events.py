"""Write paths for adverse events: recording (directly, or from a flag) and correcting with a reason.

Nothing here deletes. Every save carries who and why (django-simple-history's `_history_user` and
`_change_reason`), so the event's page and the exports show each change as before -> after with its reason.
`version` makes a correction conditional on what the clinician saw: a stale form gets VersionConflict (409).
"""

from collections.abc import Collection
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from registry.choices import InjectionStatus
from registry.history import one_history_row
from registry.models import Injection, Patient
from registry.plausibility import Warning
from registry.scoping import patients_for
from safety import signals
from safety.choices import (
    HARVEST_CATEGORIES,
    HARVEST_RELATEDNESS,
    SERIOUSNESS_FIELDS,
    EventCategory,
    EventSource,
    FlagStatus,
    Relatedness,
    Severity,
    has_harvest,
)
from safety.models import AdverseEvent, Flag
from safety.services.flags import flag_event_recorded

# Staged plans only (a later injection to withhold or give): CIOMS I boxes 20-21.
STAGED_FIELDS = ("dechallenge", "dechallenge_abated", "rechallenge", "rechallenge_recurred")
# What a clinician enters (web form, API); everything else is set here.
EVENT_FIELDS = (
    "source",
    "onset_on",
    "category",
    "description",
    "severity",
    *SERIOUSNESS_FIELDS,
    "causality_product",
    "causality_procedure",
    "relatedness",
    "expectedness",
    "action_taken",
    "outcome",
    "outcome_on",
    "meddra_code",
    "meddra_version",
    *STAGED_FIELDS,
    "aware_on",
)
CAUSALITY_FIELDS = ("causality_product", "causality_procedure")
# A change to any of these is a new assessment: assessed_by/at move to whoever made it.
ASSESSMENT_FIELDS = ("severity", *SERIOUSNESS_FIELDS, *CAUSALITY_FIELDS, "relatedness", "expectedness")

SEPTIC_LOW_GRADE = "event.septic_arthritis_grade"


class UnconfirmedEventWarnings(ValidationError):
    """Unusual but possible values nobody confirmed: nothing was saved. Each warning is confirmed by passing its
    ``code`` in ``acknowledged_warnings`` (the same shape as registry.services.UnconfirmedWarnings)."""

    def __init__(self, warnings: list[Warning]):
        self.warnings = warnings
        errors: dict[str, list[str]] = {}
        for w in warnings:
            errors.setdefault(w.field, []).append(w.message)
        super().__init__({**errors, "acknowledged_warnings": [w.code for w in warnings]})


def event_warnings(event: AdverseEvent) -> list[Warning]:
    """What must be confirmed before saving: septic arthritis is usually CTCAE grade 3 or more (it needs admission,
    washout and intravenous antibiotics); a lower grade is possible but is more often a slip."""
    if event.category == EventCategory.SEPTIC_ARTHRITIS and event.severity and event.severity < Severity.SEVERE:
        return [
            Warning(
                SEPTIC_LOW_GRADE,
                "severity",
                f"Septic arthritis is usually grade 3 or more (hospitalisation indicated); this says grade "
                f"{event.severity}. Correct the grade, or confirm it is right.",
            )
        ]
    return []


def _confirmed(event: AdverseEvent, acknowledged: Collection[str], *, reason: str, asked: bool = True) -> str:
    """Refuse warnings nobody confirmed; return the audit reason, naming what was confirmed. ``asked``: False when
    the values the warning is about did not change (confirmed when they were entered)."""
    found = event_warnings(event) if asked else []
    unconfirmed = [w for w in found if w.code not in set(acknowledged)]
    if unconfirmed:
        raise UnconfirmedEventWarnings(unconfirmed)
    if not found:
        return reason
    return f"{reason} (confirmed: septic arthritis at grade {event.severity})"


def _check_staged(injections: list[Injection], data: dict[str, Any]) -> None:
    """Dechallenge and rechallenge mean something only in a staged plan (a later injection to withhold or give)."""
    if any(i.plan.is_staged for i in injections):
        return
    given = [name for name in STAGED_FIELDS if data.get(name)]
    if given:
        raise ValidationError(
            dict.fromkeys(given, "Only for an injection of a staged plan (more than one injection planned).")
        )


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
def adverse_event_record(
    *, by, data: dict[str, Any], flag: Flag | None = None, acknowledged_warnings: Collection[str] = ()
) -> AdverseEvent:
    """Record an adverse event: `data` holds `patient`, `injections` and the EVENT_FIELDS.

    Without `patient`, the patient is the flag's, or the injections'. Without `source`, it is "rule" from a flag
    and "clinician" otherwise (as the web form proposes). Recording from a flag moves the flag to "event recorded"
    (in the same transaction). A serious event is announced (adverse_event_serious) once the transaction commits.
    Septic arthritis below grade 3 raises UnconfirmedEventWarnings unless confirmed in ``acknowledged_warnings``.
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
    _check_staged(injections, data)
    now = timezone.now()
    if not data.get("aware_on"):
        data["aware_on"] = timezone.localdate()  # day 0 of the reporting clocks: recorded today, known today
    for name in STAGED_FIELDS:
        data[name] = data.get(name) or ""
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
    event.sync_derived()
    reason = _confirmed(event, acknowledged_warnings, reason=f"Recorded from flag #{flag.pk}" if flag else "Recorded")
    _save(event, by=by, reason=reason, injections=injections)
    if flag is not None:
        flag_event_recorded(flag=flag, event=event, by=by)
    _announce_if_newly_serious(event, was_serious=False)
    return event


def default_source(flag: Flag | None) -> str:
    """Who reported the event, unless said: the flag rule for an event recorded from a flag, else the clinician."""
    return EventSource.RULE if flag is not None else EventSource.CLINICIAN


@transaction.atomic
def flag_record_event(
    *, flag: Flag, by, data: dict[str, Any], acknowledged_warnings: Collection[str] = ()
) -> AdverseEvent:
    """Triage decision: the flag is an adverse event. Records it and closes the flag as "event recorded"."""
    flag = Flag.objects.select_for_update().select_related("patient").get(pk=flag.pk)
    if not flag.can_transition_to(FlagStatus.EVENT_RECORDED):
        raise ValidationError({"flag": f"This flag is already {flag.get_status_display().lower()}."})
    return adverse_event_record(by=by, data=data, flag=flag, acknowledged_warnings=acknowledged_warnings)


@transaction.atomic
def adverse_event_correct(
    *,
    event: AdverseEvent,
    by,
    data: dict[str, Any],
    reason: str,
    expected_version: int,
    acknowledged_warnings: Collection[str] = (),
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
    _check_staged(new_injections, {name: data.get(name, getattr(event, name)) for name in STAGED_FIELDS})
    for name in STAGED_FIELDS:
        if name in data:
            data[name] = data[name] or ""
    if "aware_on" in data and not data["aware_on"]:
        data.pop("aware_on")  # day 0 is never blanked: it stays what it was
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
    if any(name in CAUSALITY_FIELDS for name in changed):
        event.assessed_jointly = False  # a new assessment, made for each separately
    event.version += 1
    event.sync_derived()
    asked = any(name in ("category", "severity") for name in changed)
    reason = _confirmed(event, acknowledged_warnings, reason=reason, asked=asked)
    _save(event, by=by, reason=reason, injections=new_injections if injections_changed else None)
    _announce_if_newly_serious(event, was_serious=was_serious)
    return event

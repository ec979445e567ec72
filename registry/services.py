"""Write paths for the registry. Each runs in one transaction, validates with the model's own rules, leaves
an audit row (django-simple-history, with the reason) and announces what happened to the apps above.
"""

from collections.abc import Collection, Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import plausibility, signals
from registry.choices import InjectionStatus, WithdrawalDecision
from registry.models import Clinic, Injection, Patient, TreatmentPlan
from registry.models.patient import new_registry_number
from registry.protocols import validate_governance, validate_protocol

# What a service takes as a patient's data, in the order pages show it. The forms, the API's serializer and the
# admin derive their field lists from this tuple, so a new field is added here once.
PATIENT_FIELDS: tuple[str, ...] = (
    "full_name",
    "email",
    "phone",
    "year_of_birth",
    "sex",
    "consent_on",
    "consent_version",
    "consent_registry",
    "consent_email_contact",
)
# What a service takes as an injection's data, in the order pages show it (forms, serializer and admin derive
# from it). The plan numbers are separate arguments.
INJECTION_FIELDS: tuple[str, ...] = (
    "knee",
    "status",
    "injected_on",
    "clinician",
    "product",
    "guidance",
    "volume_ml",
    "rehabilitation",
    "rehabilitation_notes",
    "kl_grade",
    "bmi",
    "alignment",
    "alignment_degrees",
    "activity_level",
    "previous_treatments",
    "pathology",
    "pathology_notes",
    "protocol",
    "governance",
)
# Fields that define what was injected into which knee: fixed once recorded (record a new injection instead).
INJECTION_FIXED_FIELDS = {"knee", "product"}


class UnconfirmedWarnings(ValidationError):
    """Unusual values (registry.plausibility) that nobody confirmed: nothing was saved. ``warnings`` says which;
    each is confirmed by passing its ``code`` in ``acknowledged_warnings``."""

    def __init__(self, warnings: list[plausibility.Warning]):
        self.warnings = warnings
        super().__init__(
            {
                "protocol": [f"{w.field}: {w.message}" for w in warnings],
                "acknowledged_warnings": [w.code for w in warnings],
            }
        )


def _confirmed(injection: Injection, acknowledged: Collection[str], *, reason: str) -> str:
    """Refuse unusual protocol values nobody confirmed; return the audit reason, naming those confirmed."""
    warnings = plausibility.warnings(injection.product, injection.protocol, stored=injection.stored_protocol)
    unconfirmed = [w for w in warnings if w.code not in set(acknowledged)]
    if unconfirmed:
        raise UnconfirmedWarnings(unconfirmed)
    if not warnings:
        return reason
    values = ", ".join(f"{w.field} {plausibility.number(injection.protocol[w.field])}" for w in warnings)
    return f"{reason} (unusual values confirmed: {values})"


def _reject_unknown(data: dict, allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))


def _save(instance, *, by, reason: str) -> None:
    instance._change_reason = reason
    instance._history_user = by
    instance.save()


@transaction.atomic
def patient_enrol(*, clinic: Clinic, by, data: dict[str, Any]) -> Patient:
    _reject_unknown(data, PATIENT_FIELDS)
    patient = Patient(clinic=clinic, **data)
    patient.full_clean(exclude=["registry_number"])  # the insert below decides whether the number is free
    _insert_with_a_free_registry_number(patient, by=by, reason="Enrolled")
    return patient


def _insert_with_a_free_registry_number(patient: Patient, *, by, reason: str) -> None:
    """Registry numbers are random (they reveal no enrolment order), so a draw can repeat one already held (40
    bits: even odds of one repeat among a million patients). The unique index is the judge, also against a
    concurrent enrolment: a repeat rolls back to a savepoint and the number is drawn again."""
    while True:
        try:
            with transaction.atomic():
                _save(patient, by=by, reason=reason)
            return
        except IntegrityError:
            if not Patient.objects.filter(registry_number=patient.registry_number).exists():
                raise  # some other constraint: not ours to retry
            patient.registry_number = new_registry_number()


@transaction.atomic
def patient_update(*, patient: Patient, by, data: dict[str, Any], reason: str = "Details updated") -> Patient:
    _reject_unknown(data, PATIENT_FIELDS)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    for key, value in data.items():
        setattr(patient, key, value)
    patient.full_clean()
    _save(patient, by=by, reason=reason)
    return patient


@transaction.atomic
def patient_withdraw_consent(*, patient: Patient, by, decision: str, reason: str) -> Patient:
    """Stop all contact from now on. Stored data is kept or its contact details erased, as agreed, and the
    decision itself is recorded; nothing is silently deleted."""
    if decision not in WithdrawalDecision.values:
        raise ValidationError({"decision": f"Choose one of: {', '.join(WithdrawalDecision.values)}."})
    if not reason.strip():
        raise ValidationError({"reason": "Record why consent was withdrawn (or that no reason was given)."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.has_withdrawn:
        raise ValidationError(
            f"Consent was already withdrawn on {timezone.localdate(patient.consent_withdrawn_at):%d %b %Y}."
        )
    patient.consent_withdrawn_at = timezone.now()
    patient.withdrawal_decision = decision
    patient.withdrawal_reason = reason
    patient.consent_email_contact = False
    if decision == WithdrawalDecision.ERASE_CONTACT:
        patient.full_name = patient.email = patient.phone = ""
    _save(patient, by=by, reason=f"Consent withdrawn: {reason}")
    signals.consent_withdrawn.send(sender=Patient, patient=patient)
    return patient


@transaction.atomic
def patient_unsubscribe_email(
    *, patient: Patient, by=None, reason: str = "Unsubscribed from email (link in an email)"
) -> Patient:
    """The patient asked for no more email (the link in every email). Stops email contact only; consent to the
    registry stands. Recorded once, with history, so the clinic sees when and how."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.email_opted_out_at is None:
        patient.email_opted_out_at = timezone.now()
        _save(patient, by=by, reason=reason)
    return patient


def _plan_for(*, patient: Patient, data: dict, number: int, planned: int, by) -> TreatmentPlan:
    """A first injection opens a plan; a later stage joins the plan its first injection opened."""
    if number == 1:
        plan = TreatmentPlan(
            patient=patient, knee=data.get("knee", ""), product=data.get("product", ""), planned_injections=planned
        )
        plan.full_clean(exclude=["patient"])
        _save(plan, by=by, reason="Plan opened with first injection")
        return plan
    plan = (
        TreatmentPlan.objects.filter(
            patient=patient, knee=data.get("knee"), product=data.get("product"), planned_injections__gte=number
        )
        .order_by("-created_at")
        .first()
    )
    if plan is None:
        raise ValidationError(
            {
                "number_in_plan": (
                    f"Injection {number} of a staged plan needs the plan's first injection recorded first "
                    "(same knee and product)."
                )
            }
        )
    if plan.injections.filter(number_in_plan=number).exists():
        raise ValidationError({"number_in_plan": f"Injection {number} of this plan is already recorded."})
    return plan


@transaction.atomic
def injection_record(
    *,
    patient: Patient,
    by,
    data: dict[str, Any],
    number_in_plan: int = 1,
    planned_injections: int = 1,
    acknowledged_warnings: Collection[str] = (),
) -> Injection:
    """Record an injection (given or planned) with its protocol; outcomes schedules its follow-ups. Unusual
    protocol values raise UnconfirmedWarnings unless their codes are in ``acknowledged_warnings``."""
    _reject_unknown(data, INJECTION_FIELDS)
    if not 1 <= number_in_plan <= planned_injections:
        raise ValidationError({"number_in_plan": f"Must be between 1 and the plan's {planned_injections} injections."})
    if patient.has_withdrawn:
        raise ValidationError("This patient has withdrawn consent; no new injections can be registered.")
    injection = Injection(patient=patient, created_by=by, number_in_plan=number_in_plan, **data)
    injected_on = data.get("injected_on")
    if isinstance(injected_on, date):
        injection.age_at_injection = patient.age_on(injected_on)
    injection.full_clean(exclude=["plan", "age_at_injection", "patient"])
    injection.plan = _plan_for(patient=patient, data=data, number=number_in_plan, planned=planned_injections, by=by)
    if injection.plan.is_staged and number_in_plan > 1:
        first = injection.plan.first_injection
        if first and injection.injected_on <= first.injected_on:
            raise ValidationError({"injected_on": f"Must be after injection 1 of the plan ({first.injected_on})."})
    # Store normalised protocol/governance (numbers as numbers, empty values dropped).
    injection.protocol = validate_protocol(injection.product, injection.protocol)[0]
    injection.governance = validate_governance(injection.product, injection.governance, protocol=injection.protocol)[0]
    reason = _confirmed(injection, acknowledged_warnings, reason="Injection recorded")
    _save(injection, by=by, reason=reason)
    signals.injection_recorded.send(sender=Injection, injection=injection)
    return injection


@transaction.atomic
def injection_update(
    *, injection: Injection, by, data: dict[str, Any], reason: str, acknowledged_warnings: Collection[str] = ()
) -> Injection:
    """Correct or complete an injection record. A date change moves its open follow-ups (not completed ones).
    Unusual protocol values it introduces (or stored ones the limits now refuse) must be acknowledged, as on
    recording."""
    _reject_unknown(data, INJECTION_FIELDS)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why the injection record is being changed."})
    fixed = sorted(k for k in INJECTION_FIXED_FIELDS & set(data) if data[k] != getattr(injection, k))
    if fixed:
        raise ValidationError(dict.fromkeys(fixed, "Cannot change once recorded; record a new injection instead."))
    injection = Injection.objects.select_for_update().get(pk=injection.pk)
    previous_date = injection.injected_on
    for key, value in data.items():
        setattr(injection, key, value)
    injection.age_at_injection = injection.patient.age_on(injection.injected_on)
    injection.full_clean()
    injection.protocol = validate_protocol(injection.product, injection.protocol, stored=injection.stored_protocol)[0]
    injection.governance = validate_governance(injection.product, injection.governance, new_record=False)[0]
    _save(injection, by=by, reason=_confirmed(injection, acknowledged_warnings, reason=reason))
    if injection.injected_on != previous_date:
        signals.injection_date_changed.send(sender=Injection, injection=injection, previous_date=previous_date)
    return injection


def injection_mark_given(*, injection: Injection, by, given_on: date) -> Injection:
    return injection_update(
        injection=injection,
        by=by,
        data={"status": InjectionStatus.GIVEN, "injected_on": given_on},
        reason="Planned injection given",
    )

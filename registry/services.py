"""Write paths for the registry. Each runs in one transaction, validates with the model's own rules, leaves
an audit row (django-simple-history, with the reason) and announces what happened to the apps above.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import plausibility, selection, signals
from registry.choices import InjectionStatus, Route, WithdrawalDecision
from registry.models import Clinic, Injection, InjectionComponent, Patient, TreatmentPlan
from registry.models.component import MAX_COMPONENTS, route_problem, short_product
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
    "preferred_language",
    "consent_sms_contact",
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
    *selection.FIELDS,
    "activity_level",
    "previous_treatments",
    "pathology",
    "pathology_notes",
    "protocol",
    "governance",
)
# Fields that define what was injected into which knee: fixed once recorded (record a new injection instead).
INJECTION_FIXED_FIELDS = {"knee", "product"}


# What a service takes as one component of an injection (registry.models.component), in the order pages show it.
COMPONENT_FIELDS: tuple[str, ...] = ("product", "route", "site", "volume_ml", "protocol")
# Component 1 is the principal product: these of its fields are the injection's own product, protocol and volume,
# kept equal to it by the services below and by nothing else (older readers, exports and filters read them there).
PRINCIPAL_MIRRORED = ("product", "protocol", "volume_ml")


@dataclass(frozen=True)
class ComponentWarning(plausibility.Warning):
    """An unusual value in one component. Component 1's codes stay ``protocol.<field>`` (as before components);
    a later component's are ``components.<position>.protocol.<field>``."""

    position: int = 1
    value: Any = None


class UnconfirmedWarnings(ValidationError):
    """Unusual values (registry.plausibility, registry.selection) that nobody confirmed: nothing was saved.
    ``warnings`` says which; each is confirmed by passing its ``code`` in ``acknowledged_warnings``."""

    def __init__(self, warnings: list[ComponentWarning]):
        self.warnings = warnings
        errors: dict[str, list[str]] = {}
        for w in warnings:
            if w.code.startswith("selection."):  # an injection field: the message goes beside it
                errors.setdefault(w.field, []).append(w.message)
            elif w.position == 1:
                errors.setdefault("protocol", []).append(f"{w.field}: {w.message}")
            else:
                errors.setdefault("components", []).append(f"Component {w.position}: {w.field}: {w.message}")
        super().__init__({**errors, "acknowledged_warnings": [w.code for w in warnings]})


def _component_warnings(components: list[InjectionComponent]) -> list[ComponentWarning]:
    found = []
    for c in components:
        prefix = "" if c.position == 1 else f"components.{c.position}."
        for w in plausibility.warnings(c.product, c.protocol, stored=c.stored_protocol):
            value = c.protocol[w.field]
            found.append(ComponentWarning(f"{prefix}{w.code}", w.field, w.message, position=c.position, value=value))
    return found


def _selection_warnings(injection: Injection) -> list[ComponentWarning]:
    """Unusual selection factors (registry.selection): injection fields, not a component's (position 0)."""
    return [
        ComponentWarning(w.code, w.field, w.message, position=0, value=getattr(injection, w.field))
        for w in injection.selection_check(age=injection.age_at_injection)[1]
    ]


def _confirmed(
    injection: Injection, components: list[InjectionComponent], acknowledged: Collection[str], *, reason: str
) -> str:
    """Refuse unusual values (protocols and selection factors) nobody confirmed; return the audit reason, naming
    those confirmed."""
    warnings = [*_component_warnings(components), *_selection_warnings(injection)]
    unconfirmed = [w for w in warnings if w.code not in set(acknowledged)]
    if unconfirmed:
        raise UnconfirmedWarnings(unconfirmed)
    if not warnings:
        return reason
    values = ", ".join(
        f"{f'component {w.position} ' if w.position > 1 else ''}{w.field} {plausibility.number(w.value)}"
        for w in warnings
    )
    return f"{reason} (unusual values confirmed: {values})"


def _components_given(components, data: dict) -> list[dict] | None:
    """Check the shape of ``components`` and fill the injection's principal fields from component 1. Without
    components, the injection's product, protocol and volume are its one component (the older request shape)."""
    if components is None:
        return None
    if not isinstance(components, list | tuple) or not components:
        raise ValidationError({"components": "Give at least one component (component 1 is the principal product)."})
    if len(components) > MAX_COMPONENTS:
        raise ValidationError({"components": f"At most {MAX_COMPONENTS} components in one injection."})
    for position, spec in enumerate(components, start=1):
        unknown = sorted(set(spec) - set(COMPONENT_FIELDS)) if isinstance(spec, dict) else ["(not an object)"]
        if unknown:
            raise ValidationError({"components": f"Component {position}: unknown field(s) {', '.join(unknown)}."})
    principal = components[0]
    for name in PRINCIPAL_MIRRORED:
        if name in data and name in principal and data[name] != principal[name]:
            raise ValidationError(
                {name: "Must be the same as component 1's (the principal product); give it in the components only."}
            )
        if name in principal:
            data[name] = principal[name]
    return [dict(spec) for spec in components]


def _build_components(injection: Injection, specs: list[dict] | None, existing: list[InjectionComponent]):
    """The injection's components as they will be saved, each validated; component 1 always carries the injection's
    own product, protocol and volume. ``existing``: as stored (a correction keeps what it does not change)."""
    by_position = {c.position: c for c in existing}
    if specs is None:  # only the principal fields changed (or were given): the other components stay as they are
        specs = [{} for _ in range(max(1, len(existing)))]
    errors: list[str] = []
    built = []
    for position, spec in enumerate(specs, start=1):
        component = by_position.get(position) or InjectionComponent(position=position)
        component.injection = injection
        for name in ("route", "site"):
            if name in spec:
                setattr(component, name, spec[name] if spec[name] is not None else "")
        if not component.route:
            component.route = Route.INTRA_ARTICULAR
        if position == 1:
            # The injection's own clean() has judged its product, protocol and volume: only the route is left.
            component.product, component.protocol, component.volume_ml = (
                injection.product,
                injection.protocol,
                injection.volume_ml,
            )
            component.stored_protocol = injection.stored_protocol
            problem = route_problem(component.product, component.route)
            try:
                component.clean_fields(exclude=["injection", "protocol", "product", "volume_ml"])
            except ValidationError as error:
                errors += [f"Component 1: {k}: {m}" for k, ms in error.message_dict.items() for m in ms]
            if problem:
                raise ValidationError({"route": problem})
        else:
            for name in ("product", "volume_ml", "protocol"):
                if name in spec:
                    setattr(component, name, spec[name])
            try:
                component.full_clean(exclude=["injection"], validate_unique=False)
            except ValidationError as error:
                label = (
                    f"Component {position} ({short_product(component.product)})"
                    if component.product
                    else (f"Component {position}")
                )
                errors += [
                    f"{label}: {m}" if k == "__all__" else f"{label}, {k.replace('_', ' ')}: {m}"
                    for k, ms in error.message_dict.items()
                    for m in ms
                ]
            else:
                component.protocol = validate_protocol(
                    component.product, component.protocol, stored=component.stored_protocol
                )[0]
        built.append(component)
    if errors:
        raise ValidationError({"components": errors})
    return built


def _save_components(injection: Injection, components: list[InjectionComponent], *, by, reason: str) -> None:
    """Save what changed, remove components a correction left out; each leaves its audit row with the reason."""
    kept = {c.position for c in components}
    for gone in injection.components.exclude(position__in=kept):
        gone._change_reason, gone._history_user = reason, by
        gone.delete()
    fields = ["product", "route", "site", "volume_ml", "protocol"]
    for component in components:
        component.injection = injection
        if component.pk is not None:
            stored = InjectionComponent.objects.filter(pk=component.pk).values(*fields).first()
            current = {name: getattr(component, name) for name in fields}
            if stored and all(plausibility.same(stored[k], current[k]) for k in fields):
                continue
        _save(component, by=by, reason=reason)


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
    # Stored, not left to follow the clinic: a clinic changing its default later does not change who reads Welsh.
    patient.preferred_language = patient.preferred_language or clinic.default_language
    patient.full_clean(exclude=["registry_number"])  # the insert below decides whether the number is free
    _insert_with_a_free_registry_number(patient, by=by, reason="Enrolled")
    signals.patient_enrolled.send(sender=Patient, patient=patient)
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
    old_phone, old_email = patient.phone, patient.email
    for key, value in data.items():
        setattr(patient, key, value)
    patient.full_clean()
    if patient.phone != old_phone and patient.phone_invalid_at is not None:
        # A new number is worth a try: the provider's refusal was about the old one.
        patient.phone_invalid_at, patient.phone_invalid_reason = None, ""
    if patient.email != old_email and patient.email_invalid_at is not None:
        # Likewise a new address after a bounce.
        patient.email_invalid_at, patient.email_invalid_reason = None, ""
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


@transaction.atomic
def patient_phone_mark_invalid(*, patient: Patient, reason: str, by=None) -> Patient:
    """The text message provider refused the number for good (not a number, not a mobile): no more texts to it
    until a clinician corrects it. Recorded with history, so the clinic sees when and why."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.phone_invalid_at is None:
        patient.phone_invalid_at = timezone.now()
        patient.phone_invalid_reason = reason[:200]
        _save(patient, by=by, reason=f"Phone number refused by the text message provider: {reason}"[:100])
    return patient


@transaction.atomic
def patient_email_mark_invalid(*, patient: Patient, reason: str, by=None) -> Patient:
    """The mail provider says the address bounced for good: no more emails to it until a clinician corrects it.
    Recorded with history, so the clinic sees when and why."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.email_invalid_at is None:
        patient.email_invalid_at = timezone.now()
        patient.email_invalid_reason = reason[:200]
        _save(patient, by=by, reason=f"Email address bounced: {reason}"[:100])
    return patient


@transaction.atomic
def patient_unsubscribe_sms(
    *, patient: Patient, by=None, reason: str = "Opted out of text messages (told by the provider)"
) -> Patient:
    """The patient opted out of texts (replied STOP, as the provider told us). Stops texts only."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.sms_opted_out_at is None:
        patient.sms_opted_out_at = timezone.now()
        _save(patient, by=by, reason=reason)
    return patient


def _plan_for(
    *, patient: Patient, data: dict, number: int, planned: int, by, repeat_of: TreatmentPlan | None = None
) -> TreatmentPlan:
    """A first injection opens a plan (the fallback of ``repeat_of``, an earlier course that did not help, when
    given); a later stage joins the plan its first injection opened."""
    if number == 1:
        plan = TreatmentPlan(
            patient=patient,
            knee=data.get("knee", ""),
            product=data.get("product", ""),
            planned_injections=planned,
            repeat_of=repeat_of,
        )
        plan.full_clean(exclude=["patient", "repeat_of"])
        problem = plan.repeat_problem(repeat_of)
        if problem:
            raise ValidationError({"repeat_of": problem})
        reason = "Plan opened with first injection"
        _save(plan, by=by, reason=f"{reason} (repeat of course {repeat_of.pk})" if repeat_of else reason)
        return plan
    if repeat_of is not None:
        raise ValidationError({"repeat_of": "Only the first injection of a course says which course it repeats."})
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
    components: list[dict] | None = None,
    number_in_plan: int = 1,
    planned_injections: int = 1,
    acknowledged_warnings: Collection[str] = (),
    repeat_of: TreatmentPlan | None = None,
) -> Injection:
    """Record an injection (given or planned) with its protocol; outcomes schedules its follow-ups. Unusual
    protocol values raise UnconfirmedWarnings unless their codes are in ``acknowledged_warnings``. A first
    injection may open a course that repeats ``repeat_of`` (the same knee's earlier course that did not help).

    ``components``: what was injected, each with COMPONENT_FIELDS; the first is the principal product (the
    injection's own product, protocol and volume come from it). Without them, ``data``'s product, protocol and
    volume are the one component, given intra-articularly."""
    _reject_unknown(data, INJECTION_FIELDS)
    data = dict(data)
    specs = _components_given(components, data)
    if not 1 <= number_in_plan <= planned_injections:
        raise ValidationError({"number_in_plan": f"Must be between 1 and the plan's {planned_injections} injections."})
    if patient.has_withdrawn:
        raise ValidationError("This patient has withdrawn consent; no new injections can be registered.")
    injection = Injection(patient=patient, created_by=by, number_in_plan=number_in_plan, **data)
    injected_on = data.get("injected_on")
    if isinstance(injected_on, date):
        injection.age_at_injection = patient.age_on(injected_on)
    injection.full_clean(exclude=["plan", "age_at_injection", "patient"])
    injection.plan = _plan_for(
        patient=patient, data=data, number=number_in_plan, planned=planned_injections, by=by, repeat_of=repeat_of
    )
    if injection.plan.is_staged and number_in_plan > 1:
        first = injection.plan.first_injection
        if first and injection.injected_on <= first.injected_on:
            raise ValidationError({"injected_on": f"Must be after injection 1 of the plan ({first.injected_on})."})
    # Store normalised protocol/governance (numbers as numbers, empty values dropped).
    injection.protocol = validate_protocol(injection.product, injection.protocol)[0]
    injection.governance = validate_governance(injection.product, injection.governance, protocol=injection.protocol)[0]
    parts = _build_components(injection, specs, [])
    reason = _confirmed(injection, parts, acknowledged_warnings, reason="Injection recorded")
    _save(injection, by=by, reason=reason)
    _save_components(injection, parts, by=by, reason=reason)
    signals.injection_recorded.send(sender=Injection, injection=injection)
    return injection


@transaction.atomic
def injection_update(
    *,
    injection: Injection,
    by,
    data: dict[str, Any],
    reason: str,
    components: list[dict] | None = None,
    acknowledged_warnings: Collection[str] = (),
) -> Injection:
    """Correct or complete an injection record. A date change moves its open follow-ups (not completed ones).
    Unusual protocol values it introduces (or stored ones the limits now refuse) must be acknowledged, as on
    recording. ``components``, when given, is the whole list as it should be (component 1's product is fixed);
    without it, a changed protocol or volume is component 1's and the other components stay."""
    _reject_unknown(data, INJECTION_FIELDS)
    data = dict(data)
    specs = _components_given(components, data)
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
    parts = _build_components(injection, specs, list(injection.components.all()))
    reason = _confirmed(injection, parts, acknowledged_warnings, reason=reason)
    _save(injection, by=by, reason=reason)
    _save_components(injection, parts, by=by, reason=reason)
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

"""Erasing a patient's contact details (right to erasure, limited to what the registry may not keep).

The registry keeps the pseudonymised clinical record (registry number, year of birth, treatments, answers) as
the consent allows; what goes is the name, email address and phone number: from the patient row, from every
historical row of it (the history keeps who changed what and when, with "[erased]" in place of the values),
and from the copies elsewhere (free-text reasons here; addresses on sent emails, delivery errors and call notes
in notifications, which scrubs them on the contact_details_erasing signal: audit/signals.py).
Contact stops at once: a patient who has not withdrawn is withdrawn with decision "erase_contact" first.
The erasure itself is in the audit trail (a history row with the reason, and an access-log row).
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.models import AccessAction
from audit.services import access_log_record
from audit.signals import contact_details_erasing
from registry import services
from registry.choices import WithdrawalDecision
from registry.models import Patient

ERASED = "[erased]"
CONTACT_FIELDS = ("full_name", "email", "phone")


def _known_values(patient: Patient) -> list[str]:
    values = {getattr(patient, field) for field in CONTACT_FIELDS}
    history = Patient.history.filter(id=patient.pk)
    for field in CONTACT_FIELDS:
        values.update(history.exclude(**{field: ""}).values_list(field, flat=True))
    values -= {"", ERASED}
    # Longest first, so "Ann Smith" goes before "Ann" would leave "[erased] Smith".
    return sorted(values, key=len, reverse=True)


def _scrub(text: str, values: list[str]) -> str:
    for value in values:
        text = re.sub(re.escape(value), ERASED, text, flags=re.IGNORECASE)
    return text


def scrub_rows(queryset, fields: list[str], values: list[str]) -> int:
    """Replace every known contact value in ``fields`` of the rows with "[erased]"; the number of rows changed."""
    changed = 0
    for row in queryset.only("pk", *fields):
        updates = {f: _scrub(getattr(row, f) or "", values) for f in fields}
        updates = {f: v for f, v in updates.items() if v != (getattr(row, f) or "")}
        if updates:
            type(row)._default_manager.filter(pk=row.pk).update(**updates)
            changed += 1
    return changed


def _other_copies():
    """(queryset factory, text fields) of places outside the patient row that may hold contact details."""
    return [
        (lambda p: Patient.history.filter(id=p.pk), ["history_change_reason", "withdrawal_reason"]),
        (lambda p: Patient.objects.filter(pk=p.pk), ["withdrawal_reason"]),
    ]


@transaction.atomic
def patient_erase_contact_details(*, patient: Patient, by, reason: str) -> Patient:
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Record why the contact details are erased (e.g. the patient's request)."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    values = _known_values(patient)
    if not patient.has_withdrawn:
        patient = services.patient_withdraw_consent(
            patient=patient, by=by, decision=WithdrawalDecision.ERASE_CONTACT, reason=f"Erasure: {reason}"
        )
    if any(getattr(patient, field) for field in CONTACT_FIELDS) or not patient.has_withdrawn:
        patient = services.patient_update(
            patient=patient,
            by=by,
            data=dict.fromkeys(CONTACT_FIELDS, ""),
            reason=f"Contact details erased: {reason}",
        )
    history = Patient.history.filter(id=patient.pk)
    for field in CONTACT_FIELDS:
        history.exclude(**{field: ""}).update(**{field: ERASED})
    for queryset_for, fields in _other_copies():
        scrub_rows(queryset_for(patient), fields, values)
    contact_details_erasing.send(sender=Patient, patient=patient, values=values)
    access_log_record(None, action=AccessAction.ERASE, obj=patient, user=by, detail=f"Contact details erased: {reason}")
    patient.refresh_from_db()
    return patient

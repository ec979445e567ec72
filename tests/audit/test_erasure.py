"""Withdrawal stops contact at once; `manage.py erase_contact_details` removes the name, email and phone from
the patient, from every historical row and from every other copy, keeps the pseudonymised record and records
the erasure (who, when, why) in the audit trail."""

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import AccessAction, AccessLog
from notifications.models import CallAttempt, MessageKind, OutboundMessage
from outcomes.models import FollowUp
from registry import services
from registry.models import Patient
from tests.factories import PatientFactory, make_injection

NAME = "Zebulon Quillfeather"
EMAIL = "zebulon.quillfeather@example.org"
OLD_EMAIL = "zq-old-address@example.org"
PHONE = "+44 7700 900123"
TEXT_FIELDS = (models.CharField, models.TextField, models.EmailField, models.JSONField, models.SlugField)


def rows_containing(value: str, limit_per_model: int = 50) -> list[str]:
    """Every row of every model (history tables included) with `value` in any text or JSON column."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        for field in fields:
            qs = model._default_manager.all()
            if isinstance(field, models.JSONField):
                qs = qs.annotate(_as_text=Cast(field.name, models.TextField())).filter(_as_text__icontains=value)
            else:
                qs = qs.filter(**{f"{field.attname}__icontains": value})
            for pk in qs.values_list("pk", flat=True)[:limit_per_model]:
                found.append(f"{model._meta.label}.{field.name} pk={pk}")
    return found


@pytest.fixture
def identified(clinic, clinician):
    patient = PatientFactory(clinic=clinic, full_name=NAME, email=OLD_EMAIL, phone=PHONE)
    patient = services.patient_update(patient=patient, by=clinician, data={"email": EMAIL}, reason=f"{NAME} moved")
    injection = make_injection(patient, clinician)
    follow_up = FollowUp.objects.filter(plan=injection.plan).first()
    OutboundMessage.objects.create(
        kind=MessageKind.INVITATION,
        clinic=clinic,
        patient=patient,
        follow_up=follow_up,
        recipient=EMAIL,
        last_error=f"550 {OLD_EMAIL}: mailbox unavailable",
        dedupe_key="erasure-test",
        scheduled_for=timezone.now(),
    )
    CallAttempt.objects.create(
        follow_up=follow_up, clinic=clinic, called_by=clinician, outcome="no_answer", note=f"Rang {NAME} on {PHONE}"
    )
    return patient, injection


def test_the_values_are_everywhere_before(identified):
    assert rows_containing(EMAIL)
    assert rows_containing(NAME)
    assert rows_containing(OLD_EMAIL)


def test_erasure_leaves_no_contact_detail_anywhere(identified, lead):
    patient, injection = identified
    history_before = patient.history.count()
    call_command(
        "erase_contact_details", patient.registry_number, "--reason", "Patient's written request", "--by", lead.username
    )

    for value in (NAME, EMAIL, OLD_EMAIL, PHONE, "Quillfeather"):
        assert rows_containing(value) == [], value

    patient.refresh_from_db()
    # What the registry may keep stays: the pseudonymised record and its clinical data.
    assert patient.registry_number
    assert patient.year_of_birth
    assert patient.injections.filter(pk=injection.pk).exists()
    # Contact stopped: consent withdrawn with the erase decision, and no email may be sent.
    assert patient.has_withdrawn
    assert patient.withdrawal_decision == "erase_contact"
    assert not patient.may_email
    # The history keeps every change with who and when; the erased values are replaced, not the rows.
    assert patient.history.count() > history_before
    assert set(patient.history.values_list("email", flat=True)) <= {"", "[erased]"}
    assert patient.history.filter(email="[erased]").exists()
    latest = patient.history.first()
    assert latest.history_user == lead
    assert "Patient's written request" in latest.history_change_reason
    # And the erasure is in the access log of the audit trail.
    log = AccessLog.objects.get(action=AccessAction.ERASE)
    assert (log.user, log.registry_number) == (lead, patient.registry_number)


def test_erasure_after_an_earlier_withdrawal_that_kept_details(identified, clinician):
    patient, _ = identified
    services.patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="No more contact")
    call_command("erase_contact_details", patient.registry_number, "--reason", "Asked later")
    assert rows_containing(EMAIL) == []
    patient.refresh_from_db()
    assert (patient.full_name, patient.email, patient.phone) == ("", "", "")


def test_the_command_needs_a_reason_and_a_real_patient(identified):
    patient, _ = identified
    with pytest.raises(CommandError):
        call_command("erase_contact_details", patient.registry_number, "--reason", "  ")
    with pytest.raises(CommandError):
        call_command("erase_contact_details", "KR-0000-0000", "--reason", "x")
    assert Patient.objects.get(pk=patient.pk).email == EMAIL


def test_a_copy_that_cannot_be_scrubbed_leaves_the_erasure_undone(identified, lead, monkeypatch):
    """Notifications scrubs its own copies on audit's signal, inside the erasure's transaction: if it fails, no
    half-erased patient is left behind and no erasure is logged."""
    from audit.erasure import patient_erase_contact_details
    from notifications import services as notification_services

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(notification_services, "contact_copies_erase", broken)
    patient, _ = identified
    with pytest.raises(RuntimeError):
        patient_erase_contact_details(patient=patient, by=lead, reason="Patient's written request")
    patient.refresh_from_db()
    assert patient.full_name == NAME
    assert OutboundMessage.objects.filter(patient=patient, recipient__icontains="quillfeather").exists()
    assert not AccessLog.objects.filter(action=AccessAction.ERASE).exists()

"""Write paths for consultations. Each runs in one transaction, checks the user may write in the patient's clinic
(registry.scoping; auditors never may), validates with the model's own rules (consultations.models) and leaves an
audit row with its reason (django-simple-history, registry.history).
"""

import datetime as dt
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from consultations.choices import CARRIED_TO_INJECTION, Decision
from consultations.models import Consultation, DecisionAidText, PatientCopyLink, hash_patient_copy_token
from registry import selection
from registry.choices import WRITING_ROLES
from registry.models import Clinic, Injection, Patient
from registry.scoping import clinics_for, patients_for
from registry.services import ComponentWarning, UnconfirmedWarnings

# What a service takes as a consultation's data, in the order pages show it; the form, the API's serializer and
# the admin derive their field lists from this tuple.
CONSULTATION_FIELDS: tuple[str, ...] = (
    "knee",
    "consulted_on",
    "clinician",
    *selection.FIELDS,
    "activity_level",
    "pathology",
    "pathology_notes",
    "previous_treatments",
    "indications",
    "reasons_against",
    "alternatives_discussed",
    "reasoning",
    "decision",
    "proposed_product",
    "referred_to",
    "review_after_months",
    "not_improved_rule",
    "fallback_offer",
)
# Fixed once the injection is recorded from the consultation: what was decided for which knee.
FIXED_ONCE_LINKED = ("knee", "decision", "proposed_product")
# What "Record the injection" carries over to the injection form (the same field on both records).
CARRIED_OVER = ("knee", "clinician", *selection.FIELDS, "activity_level", "pathology", "pathology_notes")

NOT_YOURS = "Your role in this clinic can read consultations but not record or change them."


def _may_write(user, patient: Patient) -> None:
    if not clinics_for(user, write=True).filter(pk=patient.clinic_id).exists():
        raise PermissionDenied(NOT_YOURS)


def _reject_unknown(data: dict) -> None:
    unknown = sorted(set(data) - set(CONSULTATION_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))


def _clinician_of_the_clinic(consultation: Consultation) -> None:
    if not consultation.clinician.memberships.filter(
        clinic_id=consultation.patient.clinic_id, role__in=WRITING_ROLES
    ).exists():
        raise ValidationError({"clinician": "Must be a clinician or lead of the patient's clinic."})


def _confirmed(consultation: Consultation, acknowledged: Collection[str], *, reason: str) -> str:
    """Unusual selection factors (registry.selection's soft limits) must be confirmed, as on an injection; the
    audit reason names those confirmed."""
    warnings = [
        ComponentWarning(w.code, w.field, w.message, position=0, value=getattr(consultation, w.field))
        for w in consultation.selection_check(age=consultation.age_at_consultation)[1]
    ]
    unconfirmed = [w for w in warnings if w.code not in set(acknowledged)]
    if unconfirmed:
        raise UnconfirmedWarnings(unconfirmed)
    if not warnings:
        return reason
    return f"{reason} (unusual values confirmed: {', '.join(f'{w.field} {w.value}' for w in warnings)})"


def _save(consultation: Consultation, *, by, reason: str) -> None:
    consultation._change_reason = reason[:100]  # simple-history keeps the reason in 100 characters
    consultation._history_user = by
    consultation.save()


def _validated(consultation: Consultation) -> None:
    if isinstance(consultation.consulted_on, date):
        consultation.age_at_consultation = consultation.patient.age_on(consultation.consulted_on)
    consultation.full_clean(exclude=["patient", "created_by", "age_at_consultation"])
    _clinician_of_the_clinic(consultation)


@transaction.atomic
def consultation_record(
    *, patient: Patient, by, data: dict[str, Any], acknowledged_warnings: Collection[str] = ()
) -> Consultation:
    """Record a consultation about one knee of ``patient`` by ``by``, whatever it decided (advising against an
    injection is an outcome the registry counts). ``clinician`` defaults to ``by``."""
    _may_write(by, patient)
    _reject_unknown(data)
    if patient.has_withdrawn:
        raise ValidationError("This patient has withdrawn consent; nothing new can be recorded.")
    data = {"clinician": by, **data}
    consultation = Consultation(patient=patient, created_by=by, **data)
    _validated(consultation)
    reason = _confirmed(consultation, acknowledged_warnings, reason="Consultation recorded")
    _save(consultation, by=by, reason=reason)
    return consultation


@transaction.atomic
def consultation_update(
    *,
    consultation: Consultation,
    by,
    data: dict[str, Any],
    reason: str,
    acknowledged_warnings: Collection[str] = (),
) -> Consultation:
    """Correct or complete a consultation, with the reason kept in its audit history. Once an injection was
    recorded from it, the knee, decision and product are fixed (they describe that injection)."""
    _may_write(by, consultation.patient)
    _reject_unknown(data)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why the consultation record is being changed."})
    consultation = Consultation.objects.select_for_update().select_related("patient__clinic").get(pk=consultation.pk)
    if consultation.injection_id is not None:
        fixed = sorted(k for k in FIXED_ONCE_LINKED if k in data and data[k] != getattr(consultation, k))
        if fixed:
            raise ValidationError(dict.fromkeys(fixed, "Fixed once the injection was recorded from this consultation."))
    for key, value in data.items():
        setattr(consultation, key, value)
    _validated(consultation)
    reason = _confirmed(consultation, acknowledged_warnings, reason=reason.strip())
    _save(consultation, by=by, reason=reason)
    return consultation


def consultation_injection_initial(*, user, patient: Patient, key: str) -> dict[str, Any]:
    """The injection form's first values from a proceeding consultation of ``patient`` the user may write in
    (registry.prefill). Anything else is not found (404), so no other clinic's record can be probed."""
    if not key.isdigit() or len(key) > 18:
        raise Http404
    consultation = (
        Consultation.objects.filter(
            patient__in=patients_for(user, write=True),
            patient=patient,
            decision=Decision.PROCEED,
            injection__isnull=True,
        )
        .filter(pk=int(key))
        .first()
    )
    if consultation is None:
        raise Http404
    initial = {name: getattr(consultation, name) for name in CARRIED_OVER}
    initial["clinician"] = consultation.clinician_id
    initial["product"] = consultation.proposed_product
    initial["previous_treatments"] = [c for c in consultation.previous_treatments if c in CARRIED_TO_INJECTION]
    return {name: value for name, value in initial.items() if value not in (None, "", [])}


@transaction.atomic
def consultation_link_injection(*, key, injection: Injection, by) -> Consultation:
    """Tie the injection recorded from a consultation to it (audited). Refused unless the consultation proceeds,
    is the same patient's, same knee and product, and has no injection yet."""
    consultation = Consultation.objects.select_for_update().filter(pk=int(key)).first()
    if consultation is None:
        raise ValidationError("The consultation this injection was recorded from no longer exists.")
    _may_write(by, consultation.patient)
    problems = []
    if consultation.decision != Decision.PROCEED:
        problems.append("the consultation did not decide to proceed")
    if consultation.patient_id != injection.patient_id:
        problems.append("it is another patient's consultation")
    if consultation.knee != injection.knee:
        problems.append(f"the consultation is about the {consultation.get_knee_display().lower()} knee")
    if consultation.proposed_product != injection.product:
        problems.append(
            f"the consultation proposed {consultation.get_proposed_product_display()}: change the consultation first"
        )
    if consultation.injection_id is not None:
        problems.append("an injection was already recorded from this consultation")
    if problems:
        raise ValidationError(f"Not recorded from this consultation: {'; '.join(problems)}.")
    consultation.injection = injection
    _save(consultation, by=by, reason="Injection recorded from this consultation")
    return consultation


# --- The patient's copy: its no-login link (the questionnaire link's token rules: outcomes.services.link_create) ---


@dataclass(frozen=True)
class IssuedLink:
    link: PatientCopyLink
    token: str  # shown once to the clinician who issued it; never stored


@transaction.atomic
def patient_copy_issue(*, consultation: Consultation, by) -> IssuedLink:
    """A fresh link to the patient's copy; any older live link of the consultation is revoked first (one live link
    per consultation, so a lost or mistyped copy can always be replaced). Returns the token, whose hash only is
    stored."""
    _may_write(by, consultation.patient)
    consultation = Consultation.objects.select_for_update().get(pk=consultation.pk)
    for old in PatientCopyLink.objects.select_for_update().filter(consultation=consultation, revoked_at__isnull=True):
        _revoke(old, by=by, reason="Revoked: a new patient's copy link was issued")
    token = secrets.token_urlsafe(32)  # 256 bits from the OS's secure source
    link = PatientCopyLink(
        consultation=consultation,
        token_hash=hash_patient_copy_token(token),
        expires_at=timezone.now() + dt.timedelta(days=settings.PATIENT_COPY_LINK_DAYS),
        created_by=by,
    )
    link._change_reason = "Patient's copy link issued"
    link._history_user = by
    link.save()
    return IssuedLink(link=link, token=token)


def _revoke(link: PatientCopyLink, *, by, reason: str) -> None:
    link.revoked_at = timezone.now()
    link.revoked_by = by
    link._change_reason = reason[:100]
    link._history_user = by
    link.save()


@transaction.atomic
def patient_copy_revoke(*, consultation: Consultation, by) -> int:
    """Revoke the consultation's live link (if any): it then shows the patient a page that it no longer works.
    Returns the number of links revoked (0 or 1)."""
    _may_write(by, consultation.patient)
    links = list(PatientCopyLink.objects.select_for_update().filter(consultation=consultation, revoked_at__isnull=True))
    for link in links:
        _revoke(link, by=by, reason="Patient's copy link revoked by clinic staff")
    return len(links)


class CopyLinkState:
    VALID = "valid"
    INVALID = "invalid"  # no such link: 404
    EXPIRED = "expired"  # 410
    REVOKED = "revoked"  # 410


@dataclass(frozen=True)
class ResolvedCopyLink:
    state: str
    link: PatientCopyLink | None = None


def patient_copy_resolve(token: str) -> ResolvedCopyLink:
    """What a token leads to, without changing anything."""
    if not token or len(token) > 128:
        return ResolvedCopyLink(CopyLinkState.INVALID)
    link = (
        PatientCopyLink.objects.select_related("consultation__patient__clinic")
        .filter(token_hash=hash_patient_copy_token(token))
        .first()
    )
    if link is None:
        return ResolvedCopyLink(CopyLinkState.INVALID)
    if link.revoked_at is not None:
        return ResolvedCopyLink(CopyLinkState.REVOKED, link)
    if timezone.now() >= link.expires_at:
        return ResolvedCopyLink(CopyLinkState.EXPIRED, link)
    return ResolvedCopyLink(CopyLinkState.VALID, link)


def patient_copy_mark_opened(*, link: PatientCopyLink) -> None:
    """When the copy was first and last read, for the clinic's page. The link is handed to the patient, not
    emailed, so an opening is a person (unlike the questionnaire's, whose mail scanners make GETs count for
    nothing). Not history: two conditional updates, no audit row per reading."""
    now = timezone.now()
    PatientCopyLink.objects.filter(pk=link.pk, first_opened_at__isnull=True).update(first_opened_at=now)
    PatientCopyLink.objects.filter(pk=link.pk).update(last_opened_at=now)


def live_patient_copy_link(consultation: Consultation) -> PatientCopyLink | None:
    link = PatientCopyLink.objects.filter(consultation=consultation, revoked_at__isnull=True).first()
    return link if link is not None and link.is_live() else None


# --- The clinic's own words on the patient's copy ----------------------------------------------------------------

DECISION_AID_FIELDS = ("without_injection", "references")


@transaction.atomic
def decision_aid_text_save(*, clinic: Clinic, by, data: dict[str, str], reason: str = "") -> DecisionAidText:
    """The clinic's text on every patient's copy (audited). Staff with write access to the clinic only."""
    if not clinics_for(by, write=True).filter(pk=clinic.pk).exists():
        raise PermissionDenied("Your role in this clinic can read the text for patients but not change it.")
    unknown = sorted(set(data) - set(DECISION_AID_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    text = DecisionAidText.objects.select_for_update().filter(clinic=clinic).first()
    created = text is None
    if created:
        text = DecisionAidText(clinic=clinic, updated_by=by)
    for key, value in data.items():
        setattr(text, key, (value or "").strip())
    text.updated_by = by
    text.full_clean(exclude=["clinic", "updated_by"])
    default_reason = "Text for patients written" if created else "Text for patients changed"
    text._change_reason = (reason.strip() or default_reason)[:100]
    text._history_user = by
    text.save()
    return text

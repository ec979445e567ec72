"""Write paths for fallback reviews (issue 16). Each runs in one transaction, checks the user may write in the
course's clinic (auditors never may; outside the user's clinics: not found), validates with the model's rules and
leaves an audit row with its reason. The finding is the review list's rule at that moment (consultations.reviews),
never typed."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import dateformat, timezone

from consultations.choices import INJECTION_OFFERS, ReviewFinding
from consultations.models import FallbackReview
from consultations.reviews import finding_now
from registry.choices import WRITING_ROLES
from registry.models import Injection, TreatmentPlan
from registry.scoping import clinics_for, patients_for, plans_for

REVIEW_FIELDS: tuple[str, ...] = ("reviewed_on", "clinician", "offered", "offered_product", "path_taken", "notes")
NOT_YOURS = "Your role in this clinic can read reviews but not record or change them."


def _may_write(user, plan: TreatmentPlan) -> None:
    if not plans_for(user).filter(pk=plan.pk).exists():
        raise Http404
    if not clinics_for(user, write=True).filter(pk=plan.patient.clinic_id).exists():
        raise PermissionDenied(NOT_YOURS)


def _reject_unknown(data: dict) -> None:
    unknown = sorted(set(data) - set(REVIEW_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))


def _validated(review: FallbackReview) -> None:
    review.full_clean(exclude=["plan", "created_by", "finding"])
    if not review.clinician.memberships.filter(
        clinic_id=review.plan.patient.clinic_id, role__in=WRITING_ROLES
    ).exists():
        raise ValidationError({"clinician": "Must be a clinician or lead of the patient's clinic."})


def _save(review: FallbackReview, *, by, reason: str) -> None:
    review._change_reason = reason[:100]  # simple-history keeps the reason in 100 characters
    review._history_user = by
    review.save()


@transaction.atomic
def record_review(*, user, plan: TreatmentPlan, data: dict[str, Any]) -> FallbackReview:
    """Record the review of ``plan`` at (or after) its review point; ``clinician`` defaults to ``user``. One
    review per course: a second is refused (correct the first)."""
    plan = TreatmentPlan.objects.select_for_update().select_related("patient__clinic").get(pk=plan.pk)
    _may_write(user, plan)
    _reject_unknown(data)
    if FallbackReview.objects.filter(plan=plan).exists():
        raise ValidationError("This course was already reviewed: correct that review instead.")
    today = timezone.localtime(timezone.now(), plan.patient.clinic.tzinfo).date()
    finding, review_on = finding_now(plan, today=today)
    if review_on is None:
        raise ValidationError("This course has no injection given yet, so there is nothing to review.")
    if review_on > today:
        raise ValidationError(f"This course reaches its review point on {dateformat.format(review_on, 'j M Y')}.")
    # Past the review point with the follow-up still open before its due day: nothing to compare yet.
    review = FallbackReview(
        plan=plan, created_by=user, finding=finding or ReviewFinding.NO_FOLLOW_UP, **{"clinician": user, **data}
    )
    _validated(review)
    _save(review, by=user, reason=f"Fallback review recorded ({ReviewFinding(review.finding).label.lower()})")
    return review


@transaction.atomic
def correct_review(*, user, review: FallbackReview, data: dict[str, Any], reason: str) -> FallbackReview:
    """Correct a recorded review, with the reason kept in its audit history. The finding stays what the list
    found when the review was recorded."""
    review = FallbackReview.objects.select_for_update().select_related("plan__patient__clinic").get(pk=review.pk)
    _may_write(user, review.plan)
    _reject_unknown(data)
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why the review is being changed."})
    for key, value in data.items():
        setattr(review, key, value)
    _validated(review)
    _save(review, by=user, reason=reason.strip())
    return review


def review_injection_initial(*, user, patient, key: str) -> dict[str, Any]:
    """The injection form's first values for the injection a review's patient took (registry.prefill,
    ``?review=<course id>``): the knee, the product offered and the course it repeats. Anything else is not found."""
    if not key.isdigit() or len(key) > 18:
        raise Http404
    review = (
        FallbackReview.objects.filter(
            plan__patient__in=patients_for(user, write=True), plan__patient=patient, path_taken__in=INJECTION_OFFERS
        )
        .select_related("plan")
        .filter(plan_id=int(key))
        .first()
    )
    if review is None:
        raise Http404
    return {
        "knee": review.plan.knee,
        "product": review.offered_product,
        "repeat_of": review.plan_id,
        "clinician": user.pk,
    }


def review_link_injection(*, key, injection: Injection, by) -> None:
    """The injection recorded from a review opens the course that follows the one reviewed: refused unless its
    course is linked as that course's repeat (the form's "Repeat of" field, preset)."""
    if injection.plan.repeat_of_id != int(key) or injection.number_in_plan != 1:
        raise ValidationError(
            {"repeat_of": "An injection recorded from a review opens a new course that repeats the course reviewed."}
        )

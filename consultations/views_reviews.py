"""The fallback review pages (issue 16): the clinic's review list beside the attention page, and the form that
records (or corrects) a course's review. Courses are reached through registry.scoping (outside the user's clinics:
404), writes go through consultations.review_services (auditors: 403)."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from consultations import review_services, reviews
from consultations.choices import INJECTION_OFFERS, NotImprovedRule, ReviewFinding
from consultations.forms import FallbackReviewEditForm, FallbackReviewForm
from consultations.models import FallbackReview
from consultations.views import error_summary
from outcomes.models import Timepoint
from registry.forms import service_errors_onto
from registry.models import TreatmentPlan
from registry.scoping import clinics_for, get_for_user_or_404, plans_for

PAGE_SIZE = 25
TIMEPOINT_LABELS = dict(Timepoint.choices)
LISTED_FINDINGS = [(code, ReviewFinding(code).label) for code in reviews.ON_THE_LIST]


def _filters(request, clinics) -> tuple[int | None, str | None]:
    """The clinic and finding chosen (anything unknown is ignored: the whole list)."""
    clinic = request.GET.get("clinic", "")
    clinic_id = int(clinic) if clinic.isdigit() and int(clinic) in {c.pk for c in clinics} else None
    finding = request.GET.get("finding") if request.GET.get("finding") in ReviewFinding.values else None
    return clinic_id, finding


def _points(course) -> list[dict]:
    return [
        {"label": TIMEPOINT_LABELS.get(p.timepoint, p.timepoint), "koos_pain": p.koos_pain, "oks_total": p.oks_total}
        for p in reviews.trajectory(course)
    ]


def _record_injection_url(review: FallbackReview) -> str:
    return (
        reverse("registry:injection-new", kwargs={"registry_number": review.plan.patient.registry_number})
        + "?"
        + urlencode({"review": review.plan_id})
    )


@login_required
@require_safe
def review_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    clinics = list(clinics_for(user).order_by("name"))
    clinic_id, finding = _filters(request, clinics)
    today = timezone.localdate()
    writable = set(clinics_for(user, write=True).values_list("pk", flat=True))
    page = Paginator(reviews.review_list(user, today=today, clinic_id=clinic_id, finding=finding), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    due = [
        {
            "course": c,
            "points": _points(c),
            "waited": (today - c.review_on).days,
            "may_write": c.patient.clinic_id in writable,
        }
        for c in page
    ]
    repeat = TreatmentPlan.objects.filter(repeat_of=OuterRef("plan")).order_by("pk").values("pk")[:1]
    done = reviews.reviewed(user, clinic_id=clinic_id, finding=finding).annotate(repeat_id=Subquery(repeat))
    reviewed_page = Paginator(done, PAGE_SIZE).get_page(request.GET.get("reviewed_page"))
    reviewed_rows = [
        {
            "review": r,
            "may_write": r.plan.patient.clinic_id in writable,
            "record_injection_url": _record_injection_url(r)
            if r.path_taken in INJECTION_OFFERS and r.repeat_id is None and r.plan.patient.clinic_id in writable
            else None,
        }
        for r in reviewed_page
    ]
    query = {k: v for k, v in (("clinic", clinic_id or ""), ("finding", finding or "")) if v}
    return render(
        request,
        "consultations/review_list.html",
        {
            "page": page,
            "due": due,
            "reviewed_page": reviewed_page,
            "reviewed": reviewed_rows,
            "clinics": clinics,
            "clinic_id": clinic_id,
            "finding": finding,
            "findings": [*LISTED_FINDINGS, (ReviewFinding.IMPROVED.value, ReviewFinding.IMPROVED.label)],
            "filter_query": urlencode(query),
            "patient_judgement": NotImprovedRule.PATIENT_JUDGEMENT.label,
        },
    )


def _course(request, plan_id: int, *, today: dt.date) -> TreatmentPlan:
    # Outside the user's clinics, or no injection given yet (nothing to review): not found.
    course = reviews.course_with_finding(plans_for(request.user), plan_id, today=today)
    if course is None:
        raise Http404
    if not clinics_for(request.user, write=True).filter(pk=course.patient.clinic_id).exists():
        raise PermissionDenied(review_services.NOT_YOURS)
    return course


def _form_page(request, *, form, course, review=None, today) -> HttpResponse:
    return render(
        request,
        "consultations/review_form.html",
        {
            "form": form,
            "course": course,
            "patient": course.patient,
            "review": review,
            "points": _points(course),
            "waited": (today - course.review_on).days,
            "not_yet": course.review_on > today,
            "rule_label": NotImprovedRule(course.review_rule).label,
            "finding_label": ReviewFinding(course.finding).label if course.finding else "",
            "errors": error_summary(form) if request.method == "POST" else [],
        },
    )


@login_required
def review_record(request: HttpRequest, plan_id: int) -> HttpResponse:
    today = timezone.localdate()
    course = _course(request, plan_id, today=today)
    if FallbackReview.objects.filter(plan=course).exists():
        return redirect("consultations:review-edit", plan_id=course.pk)
    form = FallbackReviewForm(
        request.POST if request.method == "POST" else None,
        clinic=course.patient.clinic,
        user=request.user,
        initial={"reviewed_on": today},
    )
    if request.method == "POST" and form.is_valid():
        try:
            review = review_services.record_review(user=request.user, plan=course, data=form.review_data())
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, f"Recorded the review of {course} ({course.patient.registry_number}): {review}.")
            return redirect(reverse("consultations:review-list") + "#reviewed")
    return _form_page(request, form=form, course=course, today=today)


@login_required
def review_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    today = timezone.localdate()
    course = _course(request, plan_id, today=today)
    review = get_for_user_or_404(reviews.reviews_for(request.user).select_related("plan__patient"), plan_id=course.pk)
    initial = {name: getattr(review, name) for name in review_services.REVIEW_FIELDS}
    initial["clinician"] = review.clinician_id
    form = FallbackReviewEditForm(
        request.POST if request.method == "POST" else None,
        clinic=course.patient.clinic,
        user=request.user,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            review_services.correct_review(
                user=request.user, review=review, data=form.review_data(), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            service_errors_onto(error, form=form, others={})
        else:
            messages.success(request, "Review updated.")
            return redirect(reverse("consultations:review-list") + "#reviewed")
    return _form_page(request, form=form, course=course, review=review, today=today)

"""The fallback review pages and services: the list (scoped, filtered, a fixed number of queries), recording and
correcting a review (finding from the rule, audited, auditors 403, outsiders 404, bad input keeps what was typed),
and "Record the injection" from a review opening a linked repeat course."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse

from consultations.models import FallbackReview
from consultations.review_services import correct_review, record_review
from registry.models import Injection, TreatmentPlan
from tests.consultations.review_data import BASELINE, PAST_REVIEW, RESPONDER_6M, at, course
from tests.factories import ClinicFactory, PatientFactory
from tests.registry.test_views_injections import form_data as injection_form

LIST = reverse("consultations:review-list")
NOT_IMPROVED = {"baseline": BASELINE, "6m": {**RESPONDER_6M, "pain": 45, "oks": 22}}
PHYSIO_OR_REPEAT = {
    "reviewed_on": dt.date(2026, 9, 18),
    "offered": ["physiotherapy", "repeat_injection"],
    "offered_product": "bmac",
    "path_taken": "repeat_injection",
}


def record_url(plan):
    return reverse("consultations:review-record", args=[plan.pk])


def review_form(who, **overrides):
    data = {
        "reviewed_on": "2026-09-18",
        "clinician": who.pk,
        "offered": ["physiotherapy", "repeat_injection"],
        "offered_product": "bmac",
        "path_taken": "repeat_injection",
        "notes": "Pain unchanged at six months.",
    }
    data.update(overrides)
    return data


@pytest.fixture
def poor(clinic, clinician):
    return course(clinic, clinician, scores=NOT_IMPROVED)


@pytest.mark.django_db
def test_the_list_shows_the_course_with_its_scores_and_a_way_to_review(client, clinician, poor):
    client.force_login(clinician)
    with at(PAST_REVIEW):
        page = client.get(LIST).text
    assert poor.patient.registry_number in page
    assert "Not improved" in page
    assert "KOOS Pain 40, OKS 20" in page  # the baseline of the trajectory
    assert "KOOS Pain 45, OKS 22" in page
    assert "2 Sep 2026" in page
    assert "waiting 18 days" in page
    assert record_url(poor) in page
    assert 'href="/consultations/reviews/"' in page  # the staff navigation links it


@pytest.mark.django_db
def test_auditors_read_the_list_but_may_not_record(client, auditor, poor):
    client.force_login(auditor)
    with at(PAST_REVIEW):
        page = client.get(LIST).text
        assert poor.patient.registry_number in page
        assert record_url(poor) not in page
        assert client.get(record_url(poor)).status_code == 403
        assert client.post(record_url(poor), review_form(auditor)).status_code == 403
        with pytest.raises(PermissionDenied):
            record_review(user=auditor, plan=poor, data=PHYSIO_OR_REPEAT)
    assert not FallbackReview.objects.exists()


@pytest.mark.django_db
def test_other_clinics_get_not_found(client, outsider, poor):
    client.force_login(outsider)
    with at(PAST_REVIEW):
        assert poor.patient.registry_number not in client.get(LIST).text
        assert client.get(record_url(poor)).status_code == 404
        assert client.post(record_url(poor), review_form(outsider)).status_code == 404
        with pytest.raises(Http404):
            record_review(user=outsider, plan=poor, data=PHYSIO_OR_REPEAT)


@pytest.mark.django_db
def test_filters_by_clinic_and_finding(client, clinic, clinician, poor):
    second = ClinicFactory(name="East Knee Clinic")
    clinician.memberships.create(clinic=second, role="clinician")
    missing = course(second, clinician, scores={"baseline": BASELINE})
    client.force_login(clinician)
    with at(PAST_REVIEW):
        both = client.get(LIST).text
        assert poor.patient.registry_number in both
        assert missing.patient.registry_number in both
        assert 'id="clinic"' in both  # a user of several clinics can choose one
        east = client.get(LIST, {"clinic": second.pk}).text
        assert missing.patient.registry_number in east
        assert poor.patient.registry_number not in east
        not_improved = client.get(LIST, {"finding": "not_improved"}).text
        assert poor.patient.registry_number in not_improved
        assert missing.patient.registry_number not in not_improved


@pytest.mark.django_db
def test_the_list_costs_the_same_for_2_or_12_courses(client, clinic, clinician, django_assert_max_num_queries):
    client.force_login(clinician)
    for _ in range(2):
        course(clinic, clinician, scores=NOT_IMPROVED)
    with at(PAST_REVIEW):
        # Session, user, memberships, the access log, the summary refresh, clinics, counts and the two pages.
        with django_assert_max_num_queries(25) as few:
            assert client.get(LIST).status_code == 200
        for _ in range(10):
            course(clinic, clinician, scores=NOT_IMPROVED)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert client.get(LIST).text.count("Record the review<") == 12


@pytest.mark.django_db
def test_recording_sets_the_finding_from_the_rule_and_audits(client, clinician, poor):
    client.force_login(clinician)
    with at(PAST_REVIEW):
        response = client.post(record_url(poor), review_form(clinician))
        assert response.status_code == 302
        review = FallbackReview.objects.get()
        assert (review.finding, review.path_taken, review.offered_product) == (
            "not_improved",
            "repeat_injection",
            "bmac",
        )
        record = review.history.get()
        assert record.history_change_reason == "Fallback review recorded (not improved by the plan's rule)"
        assert record.history_user == clinician
        page = client.get(LIST).text
    # Off the list, into the reviewed section, with the way to record the repeat injection.
    assert record_url(poor) not in page
    assert "Took a repeat injection" in page
    assert "Record the injection" in page
    # A second review of the course goes to the correction.
    with at(PAST_REVIEW):
        assert client.get(record_url(poor)).url == reverse("consultations:review-edit", args=[poor.pk])


@pytest.mark.django_db
def test_bad_input_keeps_what_was_typed_and_saves_nothing(client, clinician, poor):
    client.force_login(clinician)
    with at(PAST_REVIEW):
        response = client.post(
            record_url(poor), review_form(clinician, path_taken="surgical_referral", notes="Keeps this note.")
        )
    assert response.status_code == 200
    assert "The patient can take only what was offered" in response.text
    assert "Keeps this note." in response.text
    assert response.context["form"]["offered"].value() == ["physiotherapy", "repeat_injection"]
    assert not FallbackReview.objects.exists()


@pytest.mark.django_db
def test_not_before_the_review_point(clinician, poor):
    early = dt.datetime(2026, 8, 20, 12, tzinfo=dt.UTC)
    with at(early), pytest.raises(ValidationError, match="reaches its review point on 2 Sep 2026"):
        record_review(user=clinician, plan=poor, data={**PHYSIO_OR_REPEAT, "reviewed_on": dt.date(2026, 8, 20)})


@pytest.mark.django_db
def test_a_correction_needs_a_reason_and_keeps_the_finding(client, clinician, poor):
    with at(PAST_REVIEW):
        review = record_review(user=clinician, plan=poor, data=PHYSIO_OR_REPEAT)
        with pytest.raises(ValidationError):
            correct_review(user=clinician, review=review, data={"path_taken": "declined"}, reason=" ")
        client.force_login(clinician)
        url = reverse("consultations:review-edit", args=[poor.pk])
        response = client.post(url, review_form(clinician, path_taken="declined", reason="Patient changed her mind"))
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.path_taken, review.finding) == ("declined", "not_improved")
    assert review.history.order_by("-history_id").first().history_change_reason == "Patient changed her mind"


@pytest.mark.django_db
def test_record_the_injection_from_the_review_opens_a_linked_repeat_course(client, clinician, poor):
    with at(PAST_REVIEW):
        record_review(user=clinician, plan=poor, data=PHYSIO_OR_REPEAT)
        client.force_login(clinician)
        url = reverse("registry:injection-new", args=[poor.patient.registry_number]) + f"?review={poor.pk}"
        form = client.get(url).context["form"]
        assert (form["product"].value(), form["knee"].value(), form["repeat_of"].value()) == ("bmac", "left", poor.pk)
        response = client.post(url, injection_form(clinician, injected_on="2026-09-19", repeat_of=str(poor.pk)))
        assert response.status_code == 302, response.context["form"].errors
        repeat = TreatmentPlan.objects.exclude(pk=poor.pk).get()
        assert repeat.repeat_of == poor
        assert (
            repeat.history.get().history_change_reason
            == f"Plan opened with first injection (repeat of course {poor.pk})"
        )
        patient_page = client.get(reverse("registry:patient-detail", args=[poor.patient.registry_number])).text
        assert f'Repeat of <a href="#course-{poor.pk}">' in patient_page
        assert f'Repeated by <a href="#course-{repeat.pk}">' in patient_page
        # Done: the reviewed row links the repeat course instead of offering the form again.
        page = client.get(LIST).text
        assert "Repeat course recorded" in page
        assert f"?review={poor.pk}" not in page


@pytest.mark.django_db
def test_an_injection_from_a_review_must_repeat_the_course_reviewed(client, clinician, poor):
    with at(PAST_REVIEW):
        record_review(user=clinician, plan=poor, data=PHYSIO_OR_REPEAT)
        client.force_login(clinician)
        url = reverse("registry:injection-new", args=[poor.patient.registry_number]) + f"?review={poor.pk}"
        response = client.post(url, injection_form(clinician, injected_on="2026-09-19", repeat_of=""))
    assert response.status_code == 200
    assert Injection.objects.count() == 1


@pytest.mark.django_db
def test_the_registry_refuses_a_repeat_of_another_knee(clinician, poor):
    from tests.factories import make_injection

    with at(PAST_REVIEW):
        with pytest.raises(ValidationError, match="same knee of the same patient"):
            make_injection(poor.patient, clinician, knee="right", injected_on=dt.date(2026, 9, 19), repeat_of=poor)
        other = PatientFactory(clinic=poor.patient.clinic)
        with pytest.raises(ValidationError, match="same knee of the same patient"):
            make_injection(other, clinician, injected_on=dt.date(2026, 9, 19), repeat_of=poor)
    assert TreatmentPlan.objects.count() == 1

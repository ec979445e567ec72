"""The auditor's exports of consultations and fallback reviews (consultations.exports): pseudonymised as the
adverse-event export, scoped to the clinics where the user may export, streamed, logged, and a clear 400 for
parameters that do not parse."""

import csv
import datetime as dt
import inspect
import io

import pytest
import time_machine
from django.urls import reverse

from consultations import exports
from consultations.models import Consultation
from registry.choices import Role
from registry.models import TreatmentPlan
from registry.models.patient import age_band
from registry.pseudonymise import check_row
from safety.models import ExportLog
from tests.consultations.factories import advise_against, make_consultation, make_review
from tests.factories import PatientFactory, make_injection, staff

NOW = time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False)
CONSULTATIONS = reverse("consultations:export-consultations")
REVIEWS = reverse("consultations:export-reviews")


@pytest.fixture
def dataset(clinic, clinician, other_clinic, outsider):
    """North: Ann (proceeded with BMAC, injected, reviewed, repeated) and Bob (advised against, referred to a named
    surgeon); South: one consultation and one review, never in North's files."""
    with NOW:
        ann = PatientFactory(clinic=clinic, full_name="Ann Secretname", email="ann@example.org", phone="07700 900111")
        bob = PatientFactory(clinic=clinic, full_name="Bob Hiddenname", email="bob@example.org", phone="07700 900222")
        proceeded = make_consultation(ann, clinician, review_after_months=12, reasoning="Ann Secretname's knee")
        injection = make_injection(ann, clinician, injected_on=dt.date(2026, 3, 2), kl_grade=2)
        Consultation.objects.filter(pk=proceeded.pk).update(injection=injection)
        against = make_consultation(
            bob,
            clinician,
            **advise_against(consulted_on=dt.date(2026, 2, 21), referred_to="Mr Topsecret at St Elsewhere"),
        )
        review = make_review(
            injection.plan,
            clinician,
            reviewed_on=dt.date(2027, 3, 10),
            offered=["repeat_injection", "physiotherapy"],
            offered_product="bmac",
            path_taken="repeat_injection",
            notes="Phoned Ann Secretname on 07700 900111",
        )
        repeat = make_injection(ann, clinician, injected_on=dt.date(2027, 4, 1), kl_grade=3)
        TreatmentPlan.objects.filter(pk=repeat.plan_id).update(repeat_of=injection.plan)
        carol = PatientFactory(clinic=other_clinic, full_name="Carol Southname")
        make_consultation(carol, outsider)
        south_injection = make_injection(carol, outsider)
        make_review(south_injection.plan, outsider)
    return {
        "ann": ann,
        "bob": bob,
        "carol": carol,
        "proceeded": proceeded,
        "against": against,
        "injection": injection,
        "review": review,
        "repeat": repeat,
    }


def _download(client, url, data=None) -> tuple[list[dict], str]:
    response = client.post(url, {"encoding": "utf-8", **(data or {})})  # no byte-order mark before the header
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text))), text


def _no_one_identified(text: str, rows: list[dict], *patients) -> None:
    for row in rows:
        check_row(row)
    for patient in patients:
        for value in (patient.full_name, patient.email, patient.phone, str(patient.year_of_birth)):
            assert value not in text
    for secret in ("Secretname", "Topsecret", "Phoned", "900111"):
        assert secret not in text


def test_auditor_gets_pseudonymised_consultations(client, dataset, auditor):
    client.force_login(auditor)
    rows, text = _download(client, CONSULTATIONS)
    _no_one_identified(text, rows, dataset["ann"], dataset["bob"])
    assert dataset["carol"].registry_number not in text  # South's never in North's file
    proceeded, against = rows  # in the order they were consulted
    # The patient as the adverse-event export shows them: the registry number (the pseudonym), sex, age band.
    assert proceeded["registry_number"] == dataset["ann"].registry_number
    assert proceeded["age_band"] == age_band(dataset["proceeded"].age_at_consultation)
    assert {k: proceeded[k] for k in ("consultation_id", "decision", "proposed_product", "injection_id")} == {
        "consultation_id": str(dataset["proceeded"].pk),
        "decision": "proceed",
        "proposed_product": "bmac",
        "injection_id": str(dataset["injection"].pk),
    }
    assert proceeded["course_id"] == str(dataset["injection"].plan_id)
    assert proceeded["indications"] == "pain_despite_exercise;early_oa;realistic_expectations"
    assert proceeded["alternatives_discussed"] == "exercise;weight;ha;prp;no_treatment"
    assert (proceeded["review_after_months"], proceeded["not_improved_rule"]) == ("12", "mcid_or_responder")
    assert proceeded["fallback_offer"] == "physiotherapy;surgical_referral"
    assert proceeded["referred"] == "false"
    # Advised against: the reasons, a referral said to exist (not where to), and no fallback plan.
    assert (against["decision"], against["reasons_against"], against["referred"]) == (
        "advise_against",
        "kl_4;mechanical",
        "true",
    )
    assert (against["review_after_months"], against["not_improved_rule"], against["injection_id"]) == ("", "", "")
    assert "reasoning" not in rows[0]
    assert "referred_to" not in rows[0]


def test_auditor_gets_pseudonymised_reviews(client, dataset, auditor):
    client.force_login(auditor)
    rows, text = _download(client, REVIEWS)
    _no_one_identified(text, rows, dataset["ann"], dataset["bob"])
    assert dataset["carol"].registry_number not in text
    (row,) = rows
    assert row == {
        "review_id": str(dataset["review"].pk),
        "clinic_id": str(dataset["ann"].clinic_id),
        "clinic": "North Knee Clinic",
        "registry_number": dataset["ann"].registry_number,
        "sex": dataset["ann"].sex,
        "age_band": row["age_band"],
        "course_id": str(dataset["injection"].plan_id),
        "knee": "left",
        "product": "bmac",
        "kl_grade": "2",
        "first_injected_on": "2026-03-02",
        "review_after_months": "12",  # the review point of the consultation the course came from
        "reviewed_on": "2027-03-10",
        "finding": "not_improved",
        "offered": "repeat_injection;physiotherapy",  # as recorded
        "offered_product": "bmac",
        "path_taken": "repeat_injection",
        "repeat_course_id": str(dataset["repeat"].plan_id),
        "repeat_product": "bmac",
        "recorded_at": row["recorded_at"],
    }
    assert row["age_band"].endswith("9")  # a band ("60-69"), never an age or a year


def test_every_download_is_logged(client, dataset, auditor, clinic):
    client.force_login(auditor)
    _download(client, CONSULTATIONS, {"on_or_after": "2026-02-21"})
    _download(client, REVIEWS)
    reviews_log, consultations_log = ExportLog.objects.order_by("-id")[:2]
    assert (consultations_log.user, consultations_log.format, consultations_log.row_count) == (auditor, "csv", 1)
    assert consultations_log.filters == {
        "export": "consultations",
        "clinic_ids": [clinic.pk],
        "from": "2026-02-21",
        "to": None,
    }
    assert list(consultations_log.clinics.all()) == [clinic]
    assert (reviews_log.filters["export"], reviews_log.row_count) == ("fallback-reviews", 1)
    page = client.get(reverse("safety:export-page")).content.decode()
    assert "export=consultations" in page
    assert "export=fallback-reviews" in page


def test_another_clinics_staff_get_nothing_of_ours(client, dataset, other_clinic, outsider):
    client.force_login(outsider)  # a clinician: no exports at all
    assert client.post(CONSULTATIONS).status_code == 403
    assert client.post(REVIEWS).status_code == 403
    south_lead = staff(other_clinic, Role.LEAD, username="lead_south")
    client.force_login(south_lead)
    for url in (CONSULTATIONS, REVIEWS):
        rows, text = _download(client, url)
        assert [r["registry_number"] for r in rows] == [dataset["carol"].registry_number]
        assert dataset["ann"].registry_number not in text
        assert dataset["bob"].registry_number not in text


def test_clinicians_cannot_export_their_own_clinic_either(client, dataset, clinician):
    client.force_login(clinician)
    assert client.post(CONSULTATIONS).status_code == 403


def test_bad_parameters_are_a_clear_400(client, dataset, auditor, other_clinic):
    client.force_login(auditor)
    response = client.post(CONSULTATIONS, {"on_or_after": "31/12/2026"})
    assert response.status_code == 400
    assert response.content.decode() == "on_or_after: Enter a valid date."
    response = client.post(REVIEWS, {"on_or_after": "2027-01-02", "on_or_before": "2027-01-01"})
    assert response.status_code == 400
    assert response.content.decode() == "on_or_before: The period ends before it starts."
    assert client.post(CONSULTATIONS, {"clinic": "north"}).status_code == 400
    assert client.post(CONSULTATIONS, {"clinic": other_clinic.pk}).status_code == 404  # not one of theirs
    assert not ExportLog.objects.exists()  # nothing was exported, so nothing logged


def test_asking_is_a_post(client, dataset, auditor):
    client.force_login(auditor)
    assert client.get(CONSULTATIONS).status_code == 405
    assert client.get(REVIEWS).status_code == 405
    response = client.post(CONSULTATIONS)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith("\ufeffconsultation_id,".encode())  # Excel's BOM


def test_a_period_and_a_clinic_narrow_it(client, dataset, auditor, clinic):
    client.force_login(auditor)
    rows, _ = _download(client, CONSULTATIONS, {"clinic": clinic.pk, "on_or_before": "2026-02-20"})
    assert [r["consultation_id"] for r in rows] == [str(dataset["proceeded"].pk)]
    rows, _ = _download(client, REVIEWS, {"on_or_after": "2027-03-11"})
    assert rows == []


def test_streamed_in_a_fixed_number_of_queries(client, clinic, clinician, auditor, django_assert_max_num_queries):
    with NOW:
        for _ in range(30):
            make_consultation(PatientFactory(clinic=clinic), clinician)
    client.force_login(auditor)
    rows = exports.consultation_rows(exports.consultations_for_export(exports.ExportFilters([clinic.pk], None, None)))
    assert inspect.isgenerator(rows)  # nothing read until the response is consumed
    with django_assert_max_num_queries(14):  # session, user, scope, count, log, its clinics, the rows (one cursor)
        response = client.post(CONSULTATIONS)
        body = b"".join(response.streaming_content)
    assert body.count(b"\n") == 31


def test_export_page_links_the_downloads(client, auditor):
    client.force_login(auditor)
    page = client.get(reverse("safety:export-page")).content.decode()
    assert f'action="{CONSULTATIONS}"' in page
    assert f'formaction="{REVIEWS}"' in page

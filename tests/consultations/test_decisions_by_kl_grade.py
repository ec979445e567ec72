"""decisions_by_kl_grade: how often each clinic proceeded, advised against or stayed undecided, by KL grade, counted
in SQL, for the clinics the user may read; and its table on /consultations/."""

from django.urls import reverse

from consultations.selectors import decisions_by_kl_grade
from consultations.services import consultation_record
from tests.consultations.factories import advise_against, consultation_data
from tests.factories import PatientFactory


def _record(patient, by, data):
    return consultation_record(patient=patient, by=by, data=data)


def test_counts_by_grade_checked_by_hand(clinic, clinician, patient, other_clinic, outsider, auditor):
    # North: KL 2 proceed x2, KL 2 undecided x1, KL 3 advise against x1 (mechanical), KL 4 advise against x2.
    for _ in range(2):
        _record(patient, clinician, consultation_data(kl_grade=2))
    _record(
        patient, clinician, consultation_data(kl_grade=2, decision="undecided", proposed_product="", fallback_offer=[])
    )
    _record(patient, clinician, advise_against(kl_grade=3, reasons_against=["mechanical"]))
    for _ in range(2):
        _record(patient, clinician, advise_against())
    # South (another clinic): one KL 4 advise against, never counted for North's staff.
    south_patient = PatientFactory(clinic=other_clinic)
    _record(south_patient, outsider, advise_against())

    (north,) = decisions_by_kl_grade(auditor)  # read-only staff see the counts too
    assert north.clinic_name == "North Knee Clinic"
    rows = {row.kl_grade: row for row in north.rows}
    as_tuples = {
        grade: (r.consultations, r.proceed, r.advise_against, r.undecided, r.advise_against_percent)
        for grade, r in rows.items()
    }
    assert as_tuples == {
        0: (0, 0, 0, 0, None),
        1: (0, 0, 0, 0, None),
        2: (3, 2, 0, 1, 0.0),
        3: (1, 0, 1, 0, 100.0),
        4: (2, 0, 2, 0, 100.0),
        None: (6, 2, 3, 1, 50.0),  # 3 of 6 advised against
    }
    (south,) = decisions_by_kl_grade(outsider)
    assert [r.consultations for r in south.rows] == [0, 0, 0, 0, 1, 1]


def test_one_grouped_query(clinician, patient, django_assert_max_num_queries):
    for grade in (1, 2, 3):
        _record(patient, clinician, consultation_data(kl_grade=grade))
    with django_assert_max_num_queries(2):  # (is the user an administrator?) and the grouped counts
        decisions_by_kl_grade(clinician)


def test_nobody_without_a_clinic_sees_any_count(clinician, patient, django_user_model):
    _record(patient, clinician, consultation_data())
    loner = django_user_model.objects.create_user(username="loner", password="x")
    assert decisions_by_kl_grade(loner) == []


def test_the_list_page_shows_the_table(client, clinician, patient):
    _record(patient, clinician, advise_against())
    _record(patient, clinician, consultation_data(kl_grade=2))
    client.force_login(clinician)
    response = client.get(reverse("consultations:consultation-list"))
    assert response.status_code == 200
    text = response.text
    assert "<caption>North Knee Clinic</caption>" in text
    assert '<th scope="row">4</th><td>1</td><td>0</td><td>1</td><td>0</td><td>100.0%</td>' in text
    assert '<th scope="row">All grades</th><td>2</td><td>1</td><td>1</td><td>0</td><td>50.0%</td>' in text
    assert patient.registry_number in text  # the recent consultations


def test_the_list_page_is_empty_for_an_outsider(client, clinician, patient, outsider):
    _record(patient, clinician, consultation_data())
    client.force_login(outsider)
    text = client.get(reverse("consultations:consultation-list")).text
    assert "No consultations recorded in your clinics yet." in text
    assert patient.registry_number not in text

"""Staff lists name the knee, the product and the injection day on every row, so the two follow-ups of a patient
treated in both knees are never indistinguishable: the attention page, the chase list (and the missed follow-ups
on the attention page), and the flags list. Each list's query count does not grow with its rows."""

import datetime as dt

import pytest
from django.utils import timezone

from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from safety.services import flags_evaluate
from tests.factories import PatientFactory
from tests.safety.ae_support import PRP_PROTOCOL

pytestmark = pytest.mark.django_db

LEFT = "Left knee, BMAC, injected 2 Mar 2026"
RIGHT = "Right knee, PRP, injected 2 Mar 2026"


@pytest.fixture
def both_knees(journey, clinic):
    """journey(): a patient injected in both knees on 2 March 2026 (left BMAC, right PRP), each knee's
    1-month answers raising a flag, each baseline closed unanswered yesterday; the patient has no email address,
    so both open follow-ups are on the chase list at once."""

    def make():
        patient = PatientFactory(clinic=clinic, email="")
        journeys = [
            journey(patient=patient, knee="left"),
            journey(patient=patient, knee="right", product="prp", protocol=dict(PRP_PROTOCOL)),
        ]
        for one in journeys:
            flags_evaluate(one.one_month(**{"SAFETY.fever": "yes"}).pk)
        closed = timezone.localdate() - dt.timedelta(days=1)
        FollowUp.objects.filter(patient=patient, timepoint=Timepoint.BASELINE).update(
            status=FollowUpStatus.MISSED, opens_on=closed, due_on=closed, closes_on=closed
        )
        FollowUp.objects.filter(patient=patient, timepoint=Timepoint.SIX_MONTHS).update(status=FollowUpStatus.OPEN)
        return patient

    return make


def rows_of(html: str, patient) -> list[str]:
    """The table rows that name this patient."""
    return [row for row in html.split("<tr")[1:] if patient.registry_number in row]


@pytest.mark.parametrize(
    ("url", "rows_per_knee"),
    [
        ("/attention/", 2),  # a safety flag and a missed baseline per knee
        ("/chase/", 1),  # the open 6-month follow-up per knee
        ("/flags/", 1),
    ],
)
def test_every_row_names_knee_product_and_injection_day(client, clinician, both_knees, url, rows_per_knee):
    patient = both_knees()
    client.force_login(clinician)
    rows = rows_of(client.get(url).content.decode(), patient)
    assert len(rows) == 2 * rows_per_knee
    assert sum(LEFT in row for row in rows) == rows_per_knee
    assert sum(RIGHT in row for row in rows) == rows_per_knee
    assert all((LEFT in row) != (RIGHT in row) for row in rows)


@pytest.mark.parametrize("url", ["/attention/", "/chase/", "/flags/"])
def test_the_lists_query_count_does_not_grow_with_rows(
    client, clinician, both_knees, url, django_assert_max_num_queries
):
    both_knees()
    client.force_login(clinician)
    client.get(url)  # warm caches (session, content types)
    with django_assert_max_num_queries(40) as one_patient:
        client.get(url)
    for _ in range(3):
        both_knees()
    with django_assert_max_num_queries(len(one_patient.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count("Right knee, PRP") >= 4

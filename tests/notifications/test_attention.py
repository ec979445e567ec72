"""The landing page lists what needs attention today, only from the user's own clinics, in a bounded number of
queries."""

import datetime as dt

import pytest
from django.utils import timezone

from outcomes.models import FollowUp, FollowUpStatus
from registry.services import patient_withdraw_consent
from safety.models import Flag
from safety.services import flags_evaluate
from tests.factories import PatientFactory, make_injection

pytestmark = pytest.mark.django_db
URL = "/attention/"


def test_signed_out_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_lists_open_flags_missed_follow_ups_and_withdrawals(client, journey, clinician, clinic):
    flag = flags_evaluate(journey().one_month(**{"SAFETY.hospital_admission": "yes"}).pk)[0]
    patient = PatientFactory(clinic=clinic)
    injection = make_injection(patient, clinician)
    follow_up = FollowUp.objects.filter(plan=injection.plan).first()
    closed = timezone.localdate() - dt.timedelta(days=2)
    FollowUp.objects.filter(pk=follow_up.pk).update(
        status=FollowUpStatus.MISSED, opens_on=closed, due_on=closed, closes_on=closed
    )
    leaver = PatientFactory(clinic=clinic)
    patient_withdraw_consent(patient=leaver, by=clinician, decision="retain", reason="Moved away")

    client.force_login(clinician)
    html = client.get(URL).content.decode()

    assert f"/flags/{flag.pk}/" in html
    assert "Urgent" in html
    assert patient.registry_number in html
    assert leaver.registry_number in html
    assert "Consent withdrawn" in html


def test_other_clinics_items_are_not_shown(client, journey, outsider):
    flag = flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes"}).pk)[0]
    client.force_login(outsider)
    html = client.get(URL).content.decode()
    assert f"/flags/{flag.pk}/" not in html
    assert flag.patient.registry_number not in html


def test_dismissed_flags_and_old_missed_follow_ups_drop_off(client, journey, clinician):
    flag = flags_evaluate(journey().one_month(**{"SAFETY.swelling": "yes"}).pk)[0]
    Flag.objects.filter(pk=flag.pk).update(status="dismissed", dismissed_reason="Expected", reviewed_at=timezone.now())
    closed = timezone.localdate() - dt.timedelta(days=10)
    FollowUp.objects.filter(patient=flag.patient).update(
        status=FollowUpStatus.MISSED, opens_on=closed, due_on=closed, closes_on=closed, status_changed_at=timezone.now()
    )
    client.force_login(clinician)
    html = client.get(URL).content.decode()
    assert f"/flags/{flag.pk}/" not in html
    assert flag.patient.registry_number not in html


def test_query_count_does_not_grow_with_rows(client, journey, clinician, django_assert_max_num_queries):
    flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes"}).pk)
    client.force_login(clinician)
    client.get(URL)  # warm caches (session, content types)
    with django_assert_max_num_queries(25) as small:
        client.get(URL)
    for _ in range(4):
        flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes"}).pk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(URL)

"""The flag inbox (/flags/) and a flag's page (/flags/<id>/): scoped, urgent first, reviewable by writers only."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safety.choices import FlagStatus
from safety.models import Evaluation, Flag
from safety.services import flag_start_review, flags_evaluate
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
INBOX = "/flags/"


@pytest.fixture
def client_as(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def older_swelling(journey):
    """A non-urgent flag raised on 1 Apr 2026."""
    flag = flags_evaluate(journey().one_month(**{"SAFETY.swelling": "yes"}).pk)[0]
    Flag.objects.filter(pk=flag.pk).update(raised_at=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC))
    return flag


@pytest.fixture
def newer_admission(journey):
    """An urgent flag raised on 3 Apr 2026, with a VAS flag beside it on the same questionnaire."""
    j = journey()
    j.baseline(**{"VAS.pain": "30"})
    admission, vas = flags_evaluate(j.one_month(**{"SAFETY.hospital_admission": "yes", "VAS.pain": "55"}).pk)
    Flag.objects.filter(pk__in=[admission.pk, vas.pk]).update(raised_at=dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC))
    return admission


def rows(response) -> list[str]:
    html = response.content.decode()
    return [int(part.split('"', 1)[0]) for part in html.split('data-flag="')[1:]]


def test_inbox_needs_login(client):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_inbox_shows_urgent_first_then_oldest_with_age_and_patient_link(
    client_as, clinician, older_swelling, newer_admission
):
    vas = Flag.objects.get(rule="vas_worse")
    with time_machine.travel(dt.datetime(2026, 4, 4, 12, tzinfo=dt.UTC), tick=False):
        response = client_as(clinician).get(INBOX)
    assert response.status_code == 200
    assert rows(response) == [newer_admission.pk, older_swelling.pk]
    html = response.content.decode()
    registry_number = newer_admission.patient.registry_number
    assert f'href="/patients/{registry_number}/"' in html
    assert "3 days" in html
    assert "1 day<" in html
    assert "Hospital admission" in html
    assert "Urgent" in html
    # Scores worse than baseline are worsening signals (efficacy), in their own list.
    with time_machine.travel(dt.datetime(2026, 4, 4, 12, tzinfo=dt.UTC), tick=False):
        response = client_as(clinician).get(INBOX, {"kind": "worsening"})
    assert rows(response) == [vas.pk]
    assert "VAS pain 30 → 55 (+25; flagged from +20)" in response.content.decode()


def test_inbox_hides_decided_flags_unless_asked(client_as, clinician, older_swelling, newer_admission):
    client = client_as(clinician)
    flag_start_review(flag=older_swelling, by=clinician)
    Flag.objects.filter(pk=newer_admission.pk).update(
        status=FlagStatus.DISMISSED, dismissed_reason="x", reviewed_at=newer_admission.raised_at
    )
    assert newer_admission.pk not in rows(client.get(INBOX))
    assert older_swelling.pk in rows(client.get(INBOX))
    assert rows(client.get(INBOX, {"status": "dismissed"})) == [newer_admission.pk]
    assert len(rows(client.get(INBOX, {"status": "all"}))) == 2  # the VAS worsening signal is listed apart
    assert len(rows(client.get(INBOX, {"status": "all", "kind": "worsening"}))) == 1
    assert rows(client.get(INBOX, {"status": "all", "urgent": "true"})) == [newer_admission.pk]


def test_inbox_query_count_does_not_grow_with_flags(client_as, clinician, journey, older_swelling):
    client = client_as(clinician)
    client.get(INBOX)
    with CaptureQueriesContext(connection) as few:
        client.get(INBOX)
    for _ in range(3):
        flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes", "SAFETY.care_ed": "yes"}).pk)
    with CaptureQueriesContext(connection) as many:
        assert len(rows(client.get(INBOX))) == 7
    assert len(many) == len(few)


def test_outsider_sees_nothing(client_as, outsider, older_swelling):
    client = client_as(outsider)
    assert rows(client.get(INBOX)) == []
    assert client.get(f"/flags/{older_swelling.pk}/").status_code == 404
    assert client.post(f"/flags/{older_swelling.pk}/review/").status_code == 404
    assert client.post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "x"}).status_code == 404
    older_swelling.refresh_from_db()
    assert older_swelling.status == FlagStatus.OPEN


def test_flag_page_shows_answers_and_score_changes(client_as, clinician, newer_admission):
    vas = Flag.objects.get(rule="vas_worse")
    html = client_as(clinician).get(f"/flags/{vas.pk}/").content.decode()
    assert "Have you been admitted to hospital?" in html  # the patient's safety answers
    assert "<strong>Yes</strong>" in html
    assert "VAS pain (0-100 mm, higher is worse)" in html
    assert "<strong>25.0 (worse)</strong>" in html  # 30 -> 55
    assert "Start review" in html
    assert "Dismiss with reason" in html
    assert "record adverse event" in html.lower()  # recording an event from the flag (issue 5)


def test_auditor_reads_but_gets_403_on_post(client_as, auditor, older_swelling):
    client = client_as(auditor)
    page = client.get(f"/flags/{older_swelling.pk}/")
    assert page.status_code == 200
    assert "Start review" not in page.content.decode()
    assert client.post(f"/flags/{older_swelling.pk}/review/").status_code == 403
    assert client.post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "x"}).status_code == 403
    older_swelling.refresh_from_db()
    assert older_swelling.status == FlagStatus.OPEN


def test_clinician_starts_review_then_dismisses(client_as, clinician, older_swelling):
    client = client_as(clinician)
    response = client.post(f"/flags/{older_swelling.pk}/review/")
    assert response.status_code == 302
    older_swelling.refresh_from_db()
    assert (older_swelling.status, older_swelling.reviewed_by) == (FlagStatus.IN_REVIEW, clinician)

    response = client.post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "Settled; expected after BMAC"})
    assert response.status_code == 302
    assert response["Location"] == INBOX
    older_swelling.refresh_from_db()
    assert (older_swelling.status, older_swelling.dismissed_reason) == (
        FlagStatus.DISMISSED,
        "Settled; expected after BMAC",
    )
    page = client.get(f"/flags/{older_swelling.pk}/").content.decode()
    assert "Settled; expected after BMAC" in page
    assert "Review started" in page
    assert "Dismiss with reason" not in page  # decided: no more buttons


def test_dismiss_without_reason_is_refused(client_as, clinician, older_swelling):
    response = client_as(clinician).post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "  "})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    older_swelling.refresh_from_db()
    assert older_swelling.status == FlagStatus.OPEN


def test_second_dismissal_reports_the_conflict(client_as, clinician, lead, older_swelling):
    client_as(lead).post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "Seen in clinic"})
    response = client_as(clinician).post(f"/flags/{older_swelling.pk}/dismiss/", {"reason": "Also fine"})
    assert response.status_code == 400
    assert "cannot become dismissed" in response.content.decode()
    older_swelling.refresh_from_db()
    assert older_swelling.dismissed_reason == "Seen in clinic"


def test_pages_refuse_get_on_actions(client_as, clinician, older_swelling):
    assert client_as(clinician).get(f"/flags/{older_swelling.pk}/review/").status_code == 405


def test_failed_evaluations_are_shown_in_the_inbox(client_as, clinician, outsider, journey, other_clinic):
    submission = journey().one_month()
    Evaluation.objects.create(submission=submission, attempts=1, error="RuntimeError: boom")
    theirs = journey(patient=PatientFactory(clinic=other_clinic), by=outsider).one_month()
    Evaluation.objects.create(submission=theirs, attempts=1, error="RuntimeError: boom")
    html = client_as(clinician).get(INBOX).content.decode()
    assert "evaluation failed, will retry" in html
    assert submission.follow_up.patient.registry_number in html
    assert theirs.follow_up.patient.registry_number not in html

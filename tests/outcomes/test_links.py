"""Questionnaire links: each state's page and status code, private headers, GET changes nothing, the opened
beacon, the year-of-birth check and its lock, the rate limit against guessing, and tokens kept out of logs."""

import datetime as dt
import io
import logging
import secrets

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes import signals
from outcomes.models import FollowUp, QuestionnaireLink, Submission, Timepoint
from outcomes.models.questionnaire import hash_token
from outcomes.services import YEAR_OF_BIRTH_TRIES, link_create
from registry.logging import RedactQuestionnaireTokens
from registry.services import patient_withdraw_consent
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up, q_url


def test_token_is_long_random_and_only_its_hash_is_stored(token, baseline):
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    assert link.token_hash == hash_token(token)
    assert token not in link.token_hash
    assert token not in str(link)


@pytest.mark.parametrize("path", ["", "draft/", "opened/"])
def test_every_link_response_is_private(client, token, path):
    response = client.get(q_url(token)) if not path else client.post(q_url(token, path))
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_invalid_link_is_404_and_reveals_nothing(client, token, patient):
    response = client.get(q_url(secrets.token_urlsafe(32)))
    assert response.status_code == 404
    html = response.content.decode()
    assert "can't find this questionnaire" in html
    assert patient.clinic.name not in html
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_link_expires_after_its_window(client, token, baseline):
    assert client.get(q_url(token)).status_code == 200
    with travel_to(baseline.closes_on + dt.timedelta(days=1)):
        response = client.get(q_url(token))
        posted = client.post(q_url(token), answers_for(baseline))
    assert response.status_code == 410
    assert "has closed" in response.content.decode()
    assert posted.status_code == 410
    assert not Submission.objects.exists()


def test_link_works_until_the_end_of_its_last_day(client, token, baseline):
    with travel_to(dt.datetime.combine(baseline.closes_on, dt.time(23, 50), tzinfo=baseline.clinic.tzinfo)):
        assert client.get(q_url(token)).status_code == 200


def test_link_not_yet_open_is_403(client, recorded):
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    token = link_create(follow_up=one_month)
    response = client.get(q_url(token))
    assert response.status_code == 403
    assert "isn't open yet" in response.content.decode()
    with travel_to(one_month.opens_on):
        assert client.get(q_url(token)).status_code == 200


def test_used_link_is_409(client, token, baseline):
    client.post(q_url(token), answers_for(baseline))
    response = client.get(q_url(token))
    assert response.status_code == 409
    assert "already been sent" in response.content.decode()


def test_withdrawn_patient_link_is_410(client, token, patient, clinician):
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved away")
    response = client.get(q_url(token))
    assert response.status_code == 410
    assert "no longer needed" in response.content.decode()
    html = response.content.decode()
    assert patient.full_name not in html
    assert patient.registry_number not in html


def test_get_changes_nothing(client, token, baseline):
    """Mail scanners open links: a GET must not write a single row (not even a session)."""
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    before = (link.first_opened_at, link.started_at, link.failed_checks, baseline.status, baseline.status_changed_at)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(q_url(token)).status_code == 200
        assert client.head(q_url(token)).status_code == 200
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE"))]
    assert writes == []
    link.refresh_from_db()
    baseline.refresh_from_db()
    assert before == (
        link.first_opened_at,
        link.started_at,
        link.failed_checks,
        baseline.status,
        baseline.status_changed_at,
    )


def test_opened_is_recorded_by_the_page_beacon_once(client, token, baseline):
    first = client.post(q_url(token, "opened/"))
    assert first.status_code == 204
    opened = QuestionnaireLink.objects.get(follow_up=baseline).first_opened_at
    assert opened is not None
    client.post(q_url(token, "opened/"))
    assert QuestionnaireLink.objects.get(follow_up=baseline).first_opened_at == opened


# --- Year of birth ------------------------------------------------------------------------------------------


@pytest.fixture
def checked_clinic(clinic):
    clinic.link_requires_year_of_birth = True
    clinic.save()
    return clinic


def test_year_of_birth_is_asked_first(client, checked_clinic, token, baseline, patient):
    page = client.get(q_url(token))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="year_of_birth"' in html
    assert 'name="KOOS.P1"' not in html
    assert str(patient.year_of_birth) not in html
    # Neither the answers nor the autosave get past the check.
    assert client.post(q_url(token), answers_for(baseline)).status_code == 403
    assert client.post(q_url(token, "draft/"), {"KOOS.P1": "1"}).status_code == 403
    assert not Submission.objects.exists()


def test_right_year_opens_the_questionnaire_for_this_visit(client, checked_clinic, token, baseline, patient):
    response = client.post(q_url(token, "check/"), {"year_of_birth": str(patient.year_of_birth)})
    assert response.status_code == 302
    assert response["Location"] == q_url(token)
    assert 'name="KOOS.P1"' in client.get(q_url(token)).content.decode()
    assert client.post(q_url(token), answers_for(baseline)).status_code == 302
    assert Submission.objects.filter(follow_up=baseline).exists()


def test_the_opened_beacon_waits_for_the_year_of_birth(client, checked_clinic, token, baseline, patient):
    """Whoever holds the link but not the year (a forwarded email, a shared inbox) does not count as the patient
    opening it: the beacon is refused like the draft and the answers until the check is passed."""
    refused = client.post(q_url(token, "opened/"))
    assert refused.status_code == 403
    assert refused.json() == {"state": "check_required"}
    assert QuestionnaireLink.objects.get(follow_up=baseline).first_opened_at is None
    client.post(q_url(token, "check/"), {"year_of_birth": str(patient.year_of_birth)})
    assert client.post(q_url(token, "opened/")).status_code == 204
    assert QuestionnaireLink.objects.get(follow_up=baseline).first_opened_at is not None


def test_wrong_year_says_how_many_tries_are_left(client, checked_clinic, token):
    response = client.post(q_url(token, "check/"), {"year_of_birth": "1999"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "does not match" in html
    assert f"{YEAR_OF_BIRTH_TRIES - 1} tries left" in html
    assert 'aria-invalid="true"' in html


def test_too_many_wrong_years_lock_the_link_and_tell_the_clinic(
    client, checked_clinic, token, baseline, patient, django_capture_on_commit_callbacks
):
    locked = []

    def receiver(sender, link, **kwargs):
        locked.append(link.pk)

    signals.link_locked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(YEAR_OF_BIRTH_TRIES):
                response = client.post(q_url(token, "check/"), {"year_of_birth": "1901"})
    finally:
        signals.link_locked.disconnect(receiver)
    assert response.status_code == 403
    assert "has been locked" in response.content.decode()
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    assert link.locked_at is not None
    assert locked == [link.pk]
    # Locked means locked, even with the right year now.
    again = client.post(q_url(token, "check/"), {"year_of_birth": str(patient.year_of_birth)})
    assert again.status_code == 403
    assert client.get(q_url(token)).status_code == 403


# --- Rate limit -----------------------------------------------------------------------------------------------


def test_guessing_is_rate_limited_per_address_and_the_lockout_expires(client, token, settings):
    settings.OUTCOMES_LINK_RATE_LIMIT = (3, 600)
    for _ in range(3):
        assert client.get(q_url(secrets.token_urlsafe(32))).status_code == 404
    blocked = client.get(q_url(secrets.token_urlsafe(32)))
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "600"
    assert "too many attempts" in blocked.content.decode().lower()
    # Blocked for every link, so the limit cannot tell a real token from a guess.
    assert client.get(q_url(token)).status_code == 429
    assert client.post(q_url(token, "draft/"), {}).status_code == 429
    # Another address is not affected.
    assert client.get(q_url(token), REMOTE_ADDR="10.0.0.9").status_code == 200
    with travel_to(dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=601)):
        assert client.get(q_url(token)).status_code == 200


def test_a_patient_reloading_their_own_link_is_never_limited(client, token, settings):
    settings.OUTCOMES_LINK_RATE_LIMIT = (3, 600)
    for _ in range(10):
        assert client.get(q_url(token)).status_code == 200


# --- Logs ------------------------------------------------------------------------------------------------------


@pytest.fixture
def console_output():
    """What the configured console handler (the one with the redaction filter) writes."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactQuestionnaireTokens) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_token_never_reaches_the_logs(client, token, console_output):
    unknown = secrets.token_urlsafe(32)
    assert client.get(q_url(unknown)).status_code == 404
    assert client.get(q_url(token, "nonsense/")).status_code == 404  # Django's own 404 for an unknown path
    logging.getLogger("django.server").info('"GET %s HTTP/1.1" 404 1234', q_url(token))
    output = console_output.getvalue()
    assert "Not Found: /q/[redacted]/" in output
    assert unknown not in output
    assert token not in output


def test_admin_never_shows_token_hashes(client, admin_user, token, baseline):
    client.force_login(admin_user)
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    listing = client.get("/admin/outcomes/questionnairelink/")
    detail = client.get(f"/admin/outcomes/questionnairelink/{link.pk}/change/")
    assert listing.status_code == 200
    assert detail.status_code == 200
    for response in (listing, detail):
        assert link.token_hash not in response.content.decode()
        assert token not in response.content.decode()


def test_follow_up_cancelled_link_is_410(client, token, baseline):
    FollowUp.objects.filter(pk=baseline.pk).update(status="cancelled")
    assert client.get(q_url(token)).status_code == 410

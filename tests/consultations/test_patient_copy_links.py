"""The patient's copy link (issue 16) follows the questionnaire link's token rules: random (256 bits), only its hash
stored, expiring, revocable, a new one revokes the old; staff of the clinic with write access issue and revoke,
auditors may not (403), another clinic's staff are told nothing exists (404)."""

import datetime as dt
import math
import re
import secrets

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from consultations import services
from consultations.models import PatientCopyLink, hash_patient_copy_token
from outcomes.models.questionnaire import hash_token
from tests.consultations.factories import make_consultation

ISSUED_AT = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()  # the guessing counter lives in the cache, shared by the tests of a process
    yield
    cache.clear()


@pytest.fixture
def consultation(patient, clinician):
    with time_machine.travel(dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC), tick=False):
        return make_consultation(patient, clinician)


def issue(client, user, consultation) -> str:
    """Issue through the page as ``user``; returns the link's address shown once."""
    client.force_login(user)
    response = client.post(reverse("consultations:patient-copy-issue", args=[consultation.pk]))
    assert response.status_code == 200
    [url] = re.findall(r'value="(http[^"]+/copy/[^"]+/)"', response.content.decode())
    return url


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def page(client, token: str, suffix: str = "", **extra):
    return client.get(reverse("patient-copy:page", args=[token]) + suffix, **extra)


# PostgreSQL type OIDs of text, varchar, char, json and jsonb; SQLite gives the declared type's name.
POSTGRES_TEXT_OIDS = {25, 1043, 1042, 114, 3802}


def _holds_text(type_code) -> bool:
    if connection.vendor == "postgresql":
        return type_code in POSTGRES_TEXT_OIDS
    return re.search(r"char|text|json|clob", str(type_code), re.IGNORECASE) is not None


@time_machine.travel(ISSUED_AT, tick=False)
def test_only_the_hash_is_stored_and_the_token_has_256_bits(client, clinician, consultation):
    url = issue(client, clinician, consultation)
    token = token_of(url)
    assert len(token) >= 43  # token_urlsafe(32): 43 characters of 6 bits
    assert math.log2(64) * len(token) >= 128
    link = PatientCopyLink.objects.get(consultation=consultation)
    assert link.token_hash == hash_patient_copy_token(token) != token
    # Salted per purpose: a questionnaire hash of the same token is another value.
    assert link.token_hash != hash_token(token)
    # Nowhere in the database: every text column of every table, history included.
    # Through Django's introspection, so the laptop's SQLite checks it as PostgreSQL does.
    searched = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                if _holds_text(column.type_code):
                    cursor.execute(
                        f'SELECT count(*) FROM "{table}" WHERE CAST("{column.name}" AS text) LIKE %s', [f"%{token}%"]
                    )
                    assert cursor.fetchone()[0] == 0, f"{table}.{column.name} holds the token"
                    searched += 1
    assert searched > 100


def test_tokens_are_drawn_fresh_each_time(clinician, consultation):
    tokens = {services.patient_copy_issue(consultation=consultation, by=clinician).token for _ in range(5)}
    assert len(tokens) == 5


@time_machine.travel(ISSUED_AT, tick=False)
def test_the_link_works_until_it_expires_to_the_second(client, clinician, consultation, settings):
    token = token_of(issue(client, clinician, consultation))
    client.logout()
    link = PatientCopyLink.objects.get(consultation=consultation)
    assert link.expires_at == ISSUED_AT + dt.timedelta(days=settings.PATIENT_COPY_LINK_DAYS)
    with time_machine.travel(link.expires_at - dt.timedelta(seconds=1), tick=False):
        assert page(client, token).status_code == 200
    with time_machine.travel(link.expires_at, tick=False):
        expired = page(client, token)
        assert expired.status_code == 410
        assert "This link no longer works" in expired.content.decode()
        assert "What we decided" not in expired.content.decode()
        assert page(client, token, "pdf/").status_code == 410


@time_machine.travel(ISSUED_AT, tick=False)
def test_the_link_days_come_from_the_setting(clinician, consultation, settings):
    settings.PATIENT_COPY_LINK_DAYS = 7
    issued = services.patient_copy_issue(consultation=consultation, by=clinician)
    assert issued.link.expires_at == ISSUED_AT + dt.timedelta(days=7)


@time_machine.travel(ISSUED_AT, tick=False)
def test_revoked_links_show_a_friendly_page_with_no_data(client, clinician, consultation):
    token = token_of(issue(client, clinician, consultation))
    response = client.post(reverse("consultations:patient-copy-revoke", args=[consultation.pk]))
    assert response.status_code == 302
    link = PatientCopyLink.objects.get(consultation=consultation)
    assert link.revoked_at is not None
    assert link.revoked_by == clinician
    client.logout()
    gone = page(client, token)
    assert gone.status_code == 410
    body = gone.content.decode()
    assert "closed this link" in body
    assert consultation.patient.registry_number not in body
    assert "injection of" not in body


@time_machine.travel(ISSUED_AT, tick=False)
def test_a_new_link_revokes_the_old_one(client, clinician, consultation):
    first = token_of(issue(client, clinician, consultation))
    second = token_of(issue(client, clinician, consultation))
    client.logout()
    assert page(client, first).status_code == 410
    assert page(client, second).status_code == 200
    assert PatientCopyLink.objects.filter(consultation=consultation, revoked_at__isnull=True).count() == 1


def test_an_unknown_token_is_404_with_nothing_on_it(client, db):
    response = page(client, secrets.token_urlsafe(32))
    assert response.status_code == 404
    assert "can't find this page" in response.content.decode()
    assert page(client, "x" * 200).status_code == 404  # longer than any token: not even looked up


def test_guessing_is_rate_limited_per_address(client, clinician, consultation, settings):
    settings.OUTCOMES_LINK_RATE_LIMIT = (3, 600)
    token = services.patient_copy_issue(consultation=consultation, by=clinician).token
    for _ in range(3):
        assert page(client, secrets.token_urlsafe(32)).status_code == 404
    blocked = page(client, token)  # a real token too: the limit cannot tell a real one from a guess
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "600"
    assert page(client, token, REMOTE_ADDR="10.0.0.9").status_code == 200  # another address is not affected


@time_machine.travel(ISSUED_AT, tick=False)
def test_the_patient_pages_are_private(client, clinician, consultation):
    token = services.patient_copy_issue(consultation=consultation, by=clinician).token
    for response in (page(client, token), page(client, token, "pdf/"), page(client, secrets.token_urlsafe(32))):
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response["X-Robots-Tag"]


@time_machine.travel(ISSUED_AT, tick=False)
def test_opening_is_recorded_and_shown_to_staff(client, clinician, consultation):
    token = token_of(issue(client, clinician, consultation))
    detail = reverse("consultations:consultation-detail", args=[consultation.pk])
    assert "not opened yet" in client.get(detail).content.decode()
    with time_machine.travel(ISSUED_AT + dt.timedelta(days=2), tick=False):
        from django.test import Client

        assert page(Client(), token).status_code == 200
    link = PatientCopyLink.objects.get(consultation=consultation)
    assert link.first_opened_at == link.last_opened_at == ISSUED_AT + dt.timedelta(days=2)
    shown = client.get(detail).content.decode()
    assert "last opened 3 Mar 2026" in shown
    assert "working until 31 Mar 2026" in shown


@time_machine.travel(ISSUED_AT, tick=False)
def test_issue_and_revoke_leave_audit_rows_with_their_reason(clinician, consultation):
    services.patient_copy_issue(consultation=consultation, by=clinician)
    services.patient_copy_issue(consultation=consultation, by=clinician)
    services.patient_copy_revoke(consultation=consultation, by=clinician)
    reasons = list(
        PatientCopyLink.history.order_by("history_date", "history_id").values_list(
            "history_change_reason", "history_user"
        )
    )
    assert reasons == [
        ("Patient's copy link issued", clinician.pk),
        ("Revoked: a new patient's copy link was issued", clinician.pk),
        ("Patient's copy link issued", clinician.pk),
        ("Patient's copy link revoked by clinic staff", clinician.pk),
    ]


@time_machine.travel(ISSUED_AT, tick=False)
def test_auditors_may_not_issue_or_revoke(client, auditor, clinician, consultation):
    services.patient_copy_issue(consultation=consultation, by=clinician)
    client.force_login(auditor)
    assert client.post(reverse("consultations:patient-copy-issue", args=[consultation.pk])).status_code == 403
    assert client.post(reverse("consultations:patient-copy-revoke", args=[consultation.pk])).status_code == 403
    assert PatientCopyLink.objects.filter(consultation=consultation, revoked_at__isnull=True).count() == 1
    # Reading is theirs: the page (without the buttons) and the PDF.
    detail = client.get(reverse("consultations:consultation-detail", args=[consultation.pk])).content.decode()
    assert "Give the patient" not in detail
    assert client.get(reverse("consultations:patient-copy-pdf", args=[consultation.pk])).status_code == 200


@time_machine.travel(ISSUED_AT, tick=False)
def test_another_clinics_staff_are_told_nothing_exists(client, outsider, clinician, consultation):
    services.patient_copy_issue(consultation=consultation, by=clinician)
    client.force_login(outsider)
    for name in ("patient-copy-issue", "patient-copy-revoke"):
        assert client.post(reverse(f"consultations:{name}", args=[consultation.pk])).status_code == 404
    assert client.get(reverse("consultations:patient-copy-pdf", args=[consultation.pk])).status_code == 404
    assert PatientCopyLink.objects.filter(consultation=consultation, revoked_at__isnull=True).count() == 1


def test_issuing_is_a_post_only(client, clinician, consultation):
    client.force_login(clinician)
    assert client.get(reverse("consultations:patient-copy-issue", args=[consultation.pk])).status_code == 405
    assert not PatientCopyLink.objects.exists()

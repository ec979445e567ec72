"""Questionnaire and unsubscribe tokens never reach a log line, the admin, an export or an error report.

The logs are captured twice: by pytest's caplog (what any handler attached to the root sees) and by the
project's own configured console handler (its formatted output), for a valid page, a submission, an invalid
token (404), a rate-limited address (429) and a crash (500).
"""

import io
import logging

import pytest
from django.contrib import admin
from django.core import mail
from django.test import Client

from outcomes import services as outcome_services
from outcomes.models import QuestionnaireLink
from tests.support.answers import answers_for
from tests.support.journeys import q_url


@pytest.fixture
def console_output():
    """The text the project's configured console handler writes (LOGGING in config/settings.py)."""
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert handlers, "the root logger has the project's console handler"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def everything_logged(caplog, console_output) -> str:
    # What a formatter can print: the message, its arguments, an exception's text.
    captured = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    return captured + "\n" + console_output.getvalue()


def test_valid_page_and_submission_log_no_token(client, token, baseline, caplog, console_output):
    caplog.set_level(logging.DEBUG)
    assert client.get(q_url(token)).status_code == 200
    assert client.post(q_url(token), answers_for(baseline)).status_code == 302
    assert client.post(q_url(token), answers_for(baseline)).status_code == 409
    assert token not in everything_logged(caplog, console_output)


def test_invalid_and_rate_limited_tokens_log_no_token(client, db, caplog, console_output, settings):
    settings.OUTCOMES_LINK_RATE_LIMIT = (3, 600)
    caplog.set_level(logging.DEBUG)
    guesses = [f"guess{i:02d}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" for i in range(5)]
    statuses = [client.get(q_url(guess)).status_code for guess in guesses]
    assert statuses[:3] == [404, 404, 404]
    assert statuses[-1] == 429
    logged = everything_logged(caplog, console_output)
    assert "Not Found" in logged or "Too Many Requests" in logged  # the requests were logged...
    for guess in guesses:
        assert guess not in logged  # ...without the token


def test_a_crash_logs_and_reports_no_token(token, caplog, console_output, settings, monkeypatch):
    settings.ADMINS = [("Ops", "ops@example.org")]
    settings.DEBUG = False
    caplog.set_level(logging.DEBUG)

    def explode(raw_token):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(outcome_services, "link_resolve", explode)
    client = Client(raise_request_exception=False)
    response = client.get(q_url(token), HTTP_REFERER=f"https://registry.example/q/{token}/")
    assert response.status_code == 500
    assert token.encode() not in response.content
    logged = everything_logged(caplog, console_output)
    assert "database on fire" in logged
    assert token not in logged
    # Django's error email: subject, text (with frame locals such as `raw_token`), HTML.
    assert len(mail.outbox) == 1
    report = mail.outbox[0]
    assert "database on fire" in report.body
    html = report.alternatives[0][0] if report.alternatives else ""
    for part in (report.subject, report.body, html):
        assert token not in part


def test_the_admin_never_shows_a_token_hash(client, admin_user, token, baseline):
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    client.force_login(admin_user)
    checked = 0
    for model, _model_admin in admin.site._registry.items():
        if "token_hash" not in {f.name for f in model._meta.fields}:
            continue
        info = model._meta.app_label, model._meta.model_name
        pages = [f"/admin/{info[0]}/{info[1]}/"]
        first = model.objects.first()
        if first is not None:
            pages.append(f"/admin/{info[0]}/{info[1]}/{first.pk}/change/")
        hashes = list(model.objects.values_list("token_hash", flat=True))
        for page in pages:
            response = client.get(page)
            assert response.status_code in (200, 302, 403, 404), page
            for value in hashes:
                assert value.encode() not in response.content, page
            checked += 1
    assert checked >= 1
    assert link.token_hash


def test_the_admin_never_shows_an_api_token_key(client, admin_user, clinician):
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=clinician).key
    client.force_login(admin_user)
    for page in (
        "/admin/authtoken/tokenproxy/",
        f"/admin/authtoken/tokenproxy/{clinician.pk}/change/",
        f"/admin/authtoken/tokenproxy/{clinician.pk}/delete/",
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        assert key.encode() not in response.content, page
    assert client.post(f"/admin/authtoken/tokenproxy/{clinician.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Token.objects.filter(key=key).exists()
    from django.contrib.admin.models import LogEntry

    assert not LogEntry.objects.filter(object_repr__contains=key).exists()

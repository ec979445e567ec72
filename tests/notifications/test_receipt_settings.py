"""The delivery receipts' settings and start-up checks: an email service by ANYMAIL_ESP (its keys from ANYMAIL_*
variables), Mailgun without its signing key refused in production, a short Notify callback token refused, and
system-check warnings where receipts would be refused or unauthenticated."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications.checks import delivery_receipt_secrets
from tests.test_settings import load_settings as load_settings  # the settings-file loader, as a fixture here too
from tests.test_settings import production


def test_smtp_stays_the_default_and_sends_no_receipts(load_settings):
    settings = load_settings()
    assert settings.ANYMAIL_ESP == ""
    assert settings.EMAIL_BACKEND == "notifications.mailbox.LocalMailboxBackend"
    assert settings.NOTIFY_CALLBACK_TOKEN == ""


def test_an_email_service_is_chosen_by_env_with_its_keys(load_settings, monkeypatch):
    monkeypatch.setenv("ANYMAIL_MAILGUN_API_KEY", "key-1")
    monkeypatch.setenv("ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", "signing-1")
    settings = load_settings(**production(EMAIL_URL="", ANYMAIL_ESP="Mailgun"))
    assert settings.EMAIL_BACKEND == "anymail.backends.mailgun.EmailBackend"
    assert settings.ANYMAIL == {"MAILGUN_API_KEY": "key-1", "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-1"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ANYMAIL_ESP": "pigeon"}, "ANYMAIL_ESP must be one of"),
        ({"ANYMAIL_ESP": "postmark", "EMAIL_URL": "smtp://mail.example.org:25"}, "not both"),
        ({"ANYMAIL_ESP": "mailgun", "EMAIL_URL": ""}, "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY"),
        ({"NOTIFY_CALLBACK_TOKEN": "short"}, "at least 32 characters"),
    ],
)
def test_unsafe_or_unclear_receipt_settings_stop_production_start_up(load_settings, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(**production(**env))


def test_mailgun_without_a_signing_key_is_allowed_on_a_laptop(load_settings):
    assert load_settings(ANYMAIL_ESP="mailgun").EMAIL_BACKEND == "anymail.backends.mailgun.EmailBackend"


def test_system_checks_warn_where_receipts_would_be_refused_or_unauthenticated(settings):
    settings.DEBUG = False
    settings.SMS_BACKEND = "notifications.sms.NotifySmsBackend"
    settings.NOTIFY_CALLBACK_TOKEN = ""
    settings.ANYMAIL_ESP = "postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x"}
    assert [w.id for w in delivery_receipt_secrets(None)] == ["notifications.W001", "notifications.W002"]
    settings.NOTIFY_CALLBACK_TOKEN = "t" * 32
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x", "WEBHOOK_SECRET": "user:pass"}
    assert delivery_receipt_secrets(None) == []

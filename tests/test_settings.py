"""Settings come from the environment: nothing needed on a laptop, everything checked in production.

Each test loads config/settings.py afresh as its own module with a controlled environment, so nothing here
changes the settings the rest of the suite runs with.
"""

import importlib.util
import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "config" / "settings.py"
PRODUCTION_SECRET = "x" * 60


def settings_env_vars() -> set[str]:
    """Every environment variable config/settings.py reads (env.str("NAME", ...), env.db("NAME"), ...)."""
    source = SETTINGS_FILE.read_text()
    return set(re.findall(r"""(?:env|environ\.Env\(\))\.\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    def load(**env: str):
        for name in settings_env_vars() | {"CI"}:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("settings_under_test", SETTINGS_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def production(**env: str) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": PRODUCTION_SECRET,
        "DATABASE_URL": "postgres://registry:s3cret@db.internal:5432/registry",
        "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
        "EMAIL_URL": "smtp+tls://mailer:p%40ss@smtp.example.org:587",
        "SITE_URL": "https://registry.example.org/",
        "ALLOWED_HOSTS": "registry.example.org,www.registry.example.org",
        "FHIR_SYSTEM_URI": "https://registry.example.org/fhir",
        **env,
    }


def test_the_parser_finds_the_variables_settings_read():
    names = settings_env_vars()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "SECRET_KEY", "VAR_DIR", "SHOW_DEV_MAILBOX"} <= names


def test_a_laptop_needs_nothing_set(load_settings, tmp_path):
    s = load_settings()
    var = tmp_path / "var"
    assert s.DEBUG is True
    assert s.PRODUCTION is False
    assert s.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(s.DATABASES["default"]["NAME"]).parent == var
    assert s.CELERY_BROKER_URL == "filesystem://"
    for option in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert Path(s.CELERY_BROKER_TRANSPORT_OPTIONS[option]).is_dir()  # kombu does not create them
    assert s.EMAIL_BACKEND == "notifications.mailbox.LocalMailboxBackend"
    assert Path(s.MAILBOX_DIR) == var / "mailbox"
    assert s.SHOW_DEV_MAILBOX is True
    assert Path(s.CELERY_BEAT_SCHEDULE_FILENAME).parent == var


def test_the_dev_secret_key_is_made_once_per_checkout_and_kept_private(load_settings, tmp_path):
    first = load_settings().SECRET_KEY
    key_file = tmp_path / "var" / "dev-secret-key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(first) >= 50
    second = load_settings().SECRET_KEY
    assert second == first


def test_production_reads_every_service_from_the_environment(load_settings):
    s = load_settings(**production(TIME_ZONE="Europe/Dublin", DEFAULT_FROM_EMAIL="Registry <r@example.org>"))
    assert s.DEBUG is False
    assert s.SECRET_KEY == PRODUCTION_SECRET
    db = s.DATABASES["default"]
    assert (db["ENGINE"], db["HOST"], db["NAME"], db["USER"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        "registry",
        "registry",
    )
    assert db["CONN_MAX_AGE"] == 60  # connection reuse: the biggest lever on throughput
    assert s.CELERY_BROKER_URL == "redis://redis.internal:6379/0"
    assert s.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= 3600
    assert s.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS) == ("smtp.example.org", 587, True)
    assert (s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD) == ("mailer", "p@ss")
    assert s.SITE_URL == "https://registry.example.org"
    assert s.CSRF_TRUSTED_ORIGINS == ["https://registry.example.org"]
    assert s.ALLOWED_HOSTS == ["registry.example.org", "www.registry.example.org"]
    assert s.TIME_ZONE == "Europe/Dublin"
    assert s.DEFAULT_FROM_EMAIL == "Registry <r@example.org>"
    assert s.SHOW_DEV_MAILBOX is False
    assert s.SESSION_COOKIE_SECURE
    assert s.CSRF_COOKIE_SECURE
    assert s.SECURE_SSL_REDIRECT
    assert s.STORAGES["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_production_can_show_the_dev_mailbox_for_a_staging_demo(load_settings):
    assert load_settings(**production(SHOW_DEV_MAILBOX="true")).SHOW_DEV_MAILBOX is True


def test_production_refuses_to_start_without_a_secret_key(load_settings):
    env = production()
    del env["SECRET_KEY"]
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings(**env)


@pytest.mark.parametrize("name", ["SITE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_on_a_laptops_site_address_or_hosts(load_settings, name):
    """Left unset, production took http://127.0.0.1:8000 for the links in patients' emails, and no host at all."""
    env = production()
    del env[name]
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(**env)
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(**production(**{name: ""}))


def test_production_refuses_a_short_secret_key(load_settings):
    with pytest.raises(ImproperlyConfigured, match="at least 50"):
        load_settings(**production(SECRET_KEY="short"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_ENV", "staging", "DJANGO_ENV must be"),
        ("CELERY_BROKER_URL", "amqp://guest@rabbit//", "CELERY_BROKER_URL must be"),
        ("CONN_MAX_AGE", "sixty", "invalid literal"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or text"),
        ("METRICS_TOKEN", "too-short", "METRICS_TOKEN must be at least 32 characters"),
    ],
)
def test_malformed_values_fail_at_start_up(load_settings, name, value, message):
    with pytest.raises((ImproperlyConfigured, ValueError), match=message):
        load_settings(**{name: value})


@pytest.mark.parametrize(
    "value",
    ["registry-north", "ftp://registry.example.org/fhir", "https://", "https://x.example/fhir?v=1", "https://a b"],
)
def test_production_refuses_a_malformed_fhir_system_uri(load_settings, value):
    with pytest.raises(ImproperlyConfigured, match="FHIR_SYSTEM_URI must be"):
        load_settings(**production(FHIR_SYSTEM_URI=value))


def test_the_fhir_system_uri_is_set_once_and_does_not_follow_the_site_address(load_settings):
    assert load_settings().FHIR_SYSTEM_URI == "https://knee-registry.example/fhir"  # a laptop needs nothing set
    s = load_settings(**production(FHIR_SYSTEM_URI="https://registry.north-knee.nhs.uk/fhir/"))
    assert s.FHIR_SYSTEM_URI == "https://registry.north-knee.nhs.uk/fhir"
    assert load_settings(**production(SITE_URL="https://other.example.org")).FHIR_SYSTEM_URI == (
        "https://registry.example.org/fhir"
    )


def test_production_refuses_to_start_without_a_fhir_system_uri(load_settings):
    env = production()
    del env["FHIR_SYSTEM_URI"]
    with pytest.raises(ImproperlyConfigured, match="FHIR_SYSTEM_URI must be set in production"):
        load_settings(**env)


@pytest.mark.parametrize(
    "value",
    [
        "https://knee-registry.example/fhir",  # the placeholder default, typed out
        "https://knee-registry.example/fhir/",
        "https://registry.your-hospital.example/fhir",  # .env.example's sample, copied unedited
        "https://registry.invalid/fhir",
        "http://localhost:8000/fhir",
        "https://registry.test/fhir",
    ],
)
def test_production_refuses_a_placeholder_fhir_system_uri(load_settings, value):
    with pytest.raises(ImproperlyConfigured, match="FHIR_SYSTEM_URI must be set in production"):
        load_settings(**production(FHIR_SYSTEM_URI=value))


def test_development_and_tests_keep_the_placeholder_fhir_system_uri(load_settings):
    for env in ("development", "test"):
        assert load_settings(DJANGO_ENV=env).FHIR_SYSTEM_URI == "https://knee-registry.example/fhir"


def test_the_dashboard_minimum_may_be_raised_never_lowered_below_10(load_settings):
    from outcomes.analysis.disclosure import FLOOR

    assert FLOOR == 10  # UK LLC's threshold: the settings check below names it too
    assert load_settings().DASHBOARD_MIN_GROUP_SIZE == FLOOR
    assert load_settings(DASHBOARD_MIN_GROUP_SIZE="15").DASHBOARD_MIN_GROUP_SIZE == 15
    for lower in ("9", "5", "0"):
        with pytest.raises(ImproperlyConfigured, match="not lowered below 10"):
            load_settings(DASHBOARD_MIN_GROUP_SIZE=lower)


def test_logs_are_json_in_production_and_readable_on_a_laptop(load_settings):
    assert load_settings(**production()).LOGGING["handlers"]["console"]["formatter"] == "json"
    assert load_settings().LOGGING["handlers"]["console"]["formatter"] == "text"
    assert load_settings(**production(LOG_FORMAT="text")).LOGGING["handlers"]["console"]["formatter"] == "text"


def test_the_json_formatter_writes_one_object_per_line_with_tokens_redacted():
    import json
    import logging

    from registry.logging import RedactQuestionnaireTokens, json_formatter

    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/q/" + "a" * 43 + "/",), None
    )
    RedactQuestionnaireTokens().filter(record)
    line = json_formatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "WARNING"
    assert parsed["logger"] == "django.request"
    assert parsed["message"] == "Not Found: /q/[redacted]/"

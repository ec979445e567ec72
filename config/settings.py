"""Settings for every environment, read from the environment.

A laptop needs nothing set: SQLite under var/, a filesystem Celery broker, mail into var/mailbox/.
Production sets DJANGO_ENV=production and must provide SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL,
SITE_URL and ALLOWED_HOSTS; a malformed value fails at start-up rather than at the first request.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, production or test, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)


def _dev_secret_key() -> str:
    # A per-checkout key, so two laptops never share one and nothing secret is committed.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # required: environ raises ImproperlyConfigured when missing
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()

if PRODUCTION:
    # Required (environ raises ImproperlyConfigured): a laptop's default would send patients' questionnaire links
    # to 127.0.0.1, and no ALLOWED_HOSTS answers every request with 400.
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    SITE_URL = env.url("SITE_URL").geturl().rstrip("/")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must name the site's host in production, e.g. registry.example.org")
else:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    SITE_URL = env.url("SITE_URL", default="http://127.0.0.1:8000").geturl().rstrip("/")
if urlsplit(SITE_URL).scheme not in {"http", "https"} or not urlsplit(SITE_URL).hostname:
    raise ImproperlyConfigured(
        f"SITE_URL must be the site's http(s) address, e.g. https://registry.example.org, not {SITE_URL!r}"
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: the CSP allows no other origin
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "anymail",  # email services and their delivery receipts, when ANYMAIL_ESP is set
    "registry",
    "outcomes",
    "safety",
    "notifications",
    "consultations",
    "audit",
    "accounts",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "registry.middleware.PrivateResponsesMiddleware",  # below whitenoise: static files stay cacheable
    "registry.middleware.RefuseNulCharactersMiddleware",  # before anything (the session) looks a value up
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.auth.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "audit.middleware.AccessLogMiddleware",
    "registry.middleware.MethodNotAllowedPageMiddleware",  # the site's 405 page; inside, so it renders like a view
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "registry.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'registry.sqlite3'}")}
# Reusing connections is the biggest single lever on request throughput (see bench/README).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file on the embedded default: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "notifications:attention"  # the landing page: what needs attention today
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
# The languages a patient may be written to in (Patient.preferred_language, Clinic.default_language). Staff pages
# stay English: no LocaleMiddleware; the patient's pages and emails switch to the patient's language themselves.
# Another language: add it here, run makemessages -l <code>, translate locale/<code>/LC_MESSAGES/django.po,
# compile it, and add its questionnaire wording to OUTCOMES_WORDING_FILES (README "How a clinic adds a language").
LANGUAGES = [("en-gb", "English"), ("cy", "Welsh")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Files served at the site's root by whitenoise: /favicon.ico, for what does not read the pages' <link rel="icon">.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# Audit trail: a change's reason is free text a clinician types, so never cut it at 100 characters.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Cache -------------------------------------------------------------------------------------------
# Rate limits and dashboard freshness rely on one cache shared by every web process: Redis in production
# (CACHE_URL=redis://redis:6379/1). The laptop default is per-process memory, fine for one runserver.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Email -------------------------------------------------------------------------------------------
# Default: every message lands as an .eml file in var/mailbox/, which the demo shows at /dev/mailbox/.
MAILBOX_DIR = VAR_DIR / "mailbox"
if env.str("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@smtp.example.org:587
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"
# An email service through django-anymail instead (notifications/views/receipts.py): ANYMAIL_ESP names it
# (mailgun, postmark, sendgrid, sparkpost, brevo, mailjet, amazon_ses, resend) and every other ANYMAIL_<NAME>
# variable becomes anymail's <NAME> setting: ANYMAIL_MAILGUN_API_KEY, ANYMAIL_MAILGUN_SENDER_DOMAIN,
# ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY, ANYMAIL_WEBHOOK_SECRET ("user:password", basic auth on the webhook)...
# Its delivery receipts arrive at /receipts/email/. Plain SMTP (EMAIL_URL) sends none.
ANYMAIL_ESP = env.str("ANYMAIL_ESP", default="").strip().lower()
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_ESP" and value
}
_ANYMAIL_BACKENDS = {
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "postmark": "anymail.backends.postmark.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "sparkpost": "anymail.backends.sparkpost.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "mailjet": "anymail.backends.mailjet.EmailBackend",
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "resend": "anymail.backends.resend.EmailBackend",
}
if ANYMAIL_ESP:
    if ANYMAIL_ESP not in _ANYMAIL_BACKENDS:
        raise ImproperlyConfigured(f"ANYMAIL_ESP must be one of {', '.join(_ANYMAIL_BACKENDS)}, not {ANYMAIL_ESP!r}")
    if env.str("EMAIL_URL", default=""):
        raise ImproperlyConfigured("Set EMAIL_URL (plain SMTP) or ANYMAIL_ESP (an email service), not both")
    EMAIL_BACKEND = _ANYMAIL_BACKENDS[ANYMAIL_ESP]
    # anymail refuses every Mailgun webhook without a signing key: say so at start-up, not at the first bounce.
    if ANYMAIL_ESP == "mailgun" and not DEBUG and not ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        raise ImproperlyConfigured("ANYMAIL_ESP=mailgun needs ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY for its receipts")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Knee Outcomes Registry <registry@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds per SMTP step; the claim lease is 3x at least
# The demo's mailbox page (/dev/mailbox/): administrators only, and never in production unless asked for.
SHOW_DEV_MAILBOX = env.bool("SHOW_DEV_MAILBOX", default=not PRODUCTION)

# --- Text messages (notifications/sms.py) -----------------------------------------------------------
# GOV.UK Notify (a template whose whole text is ((body))) or Twilio; with neither configured, texts go to the
# dev mailbox like emails. SMS_BACKEND names the transport outright.
NOTIFY_API_KEY = env.str("NOTIFY_API_KEY", default="")
NOTIFY_SMS_TEMPLATE_ID = env.str("NOTIFY_SMS_TEMPLATE_ID", default="")
NOTIFY_BASE_URL = env.str("NOTIFY_BASE_URL", default="")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="")
# The bearer token GOV.UK Notify sends with its delivery receipts (set the same one in Notify's callback
# settings, at least 32 characters); empty: Notify's receipts are refused (a system check warns).
NOTIFY_CALLBACK_TOKEN = env.str("NOTIFY_CALLBACK_TOKEN", default="")
if NOTIFY_CALLBACK_TOKEN and len(NOTIFY_CALLBACK_TOKEN) < 32:
    raise ImproperlyConfigured(
        "NOTIFY_CALLBACK_TOKEN must be at least 32 characters: "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default=(
        "notifications.sms.NotifySmsBackend"
        if NOTIFY_API_KEY
        else "notifications.sms.TwilioSmsBackend"
        if TWILIO_ACCOUNT_SID
        else "notifications.sms.DevSmsBackend"
    ),
)
# Text reminders to non-responders who agreed to texts, days after the follow-up opens (notifications/conf.py).
SMS_REMINDER_DAYS = env.list("SMS_REMINDER_DAYS", cast=int, default=[7, 12])
# Where a patient's number typed without a country code is from, for a clinic with no country (registry/phones.py).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="GB")

# --- Celery --------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport needs no server but does not create its folders.
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"
    for _d in (_queue_dir, _processed_dir, _control_dir):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than any countdown we use; the sweeper, not the broker, owns long delays.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    raise ImproperlyConfigured(f"CELERY_BROKER_URL must be redis:// or filesystem://, not {CELERY_BROKER_URL!r}")
CELERY_RESULT_BACKEND = None  # nobody reads task results; state lives in the database
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# The periodic tasks are listed with the Celery app (config/celery.py): settings import no app code.

# --- REST API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.api.authentication.RegistryTokenAuthentication",  # DRF's, refusing a key with a NUL
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["registry.permissions.ClinicRolePermission"],
    # JSON bodies only: nothing is uploaded, and nested records (protocols, answers) have no form encoding, so the
    # schema offers one media type a generated client can always send.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "registry.api.mixins.RegistryPagination",  # every list: bounded, strict pages
    "DEFAULT_SCHEMA_CLASS": "registry.api.schema.RegistryAutoSchema",  # documents error statuses too
    "EXCEPTION_HANDLER": "registry.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # JSON only: people read the API at /api/docs/ (accessible, tested); DRF's browsable pages were neither.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # An unknown ?format= answers 406 with a JSON message (DRF's default answers 404, as for a missing resource).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "registry.api.negotiation.RegistryContentNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Knee Outcomes Registry API",
    "DESCRIPTION": "Record knee injections and their protocols; collect and analyse KOOS, OKS and VAS outcomes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ (templates/api_docs.html): Swagger UI from drf-spectacular-sidecar, its set-up script from a
    # URL of its own (no inline script under the CSP), no call to an outside validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI puts them inside its operation buttons, links inside buttons (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids and tags from the resource ("patients_list", tag "patients"), not the version prefix.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # One name per vocabulary wherever it appears (e.g. a patient's withdrawal_decision and the action's decision).
    "ENUM_NAME_OVERRIDES": {
        # A clinic's default language and a patient's preferred one: the same list (settings.LANGUAGES).
        "LanguageEnum": LANGUAGES,
        "WithdrawalDecisionEnum": "registry.choices.WithdrawalDecision",
        "InjectionStatusEnum": "registry.choices.InjectionStatus",
        "YesNoUnknownEnum": "registry.selection.YesNoUnknown",
        "AdverseEventSourceEnum": "safety.choices.EventSource",
        "CausalityEnum": "safety.choices.Causality",
        # A consultation's list differs from an injection's of the same field name (previous_treatments): both
        # named, the injection's keeping its name. A consultation's proposed_product is a product like any other.
        "PreviousTreatmentsEnum": "registry.choices.PreviousTreatment",
        "ConsultationPreviousTreatmentEnum": "consultations.choices.PreviousTreatment",
        "ProductEnum": "registry.choices.Product",
        "ConsultationDecisionEnum": "consultations.choices.Decision",
        # What a fallback plan offers and what a review found was offered: the same vocabulary, one name.
        "FallbackOfferEnum": "consultations.choices.FallbackOffer",
    },
}

# --- Domain ------------------------------------------------------------------------------------------------
# A questionnaire link lives as long as its follow-up is open; these tune the schedule (days).
FOLLOW_UP_OPENS_DAYS_BEFORE_DUE = env.int("FOLLOW_UP_OPENS_DAYS_BEFORE_DUE", default=3)
FOLLOW_UP_CLOSES_DAYS_AFTER_DUE = env.int("FOLLOW_UP_CLOSES_DAYS_AFTER_DUE", default=21)
# The baseline may still be answered this many days after the injection (about the days before it); 0: only
# before or on the injection day. outcomes/schedule.py applies it.
BASELINE_CLOSES_DAYS_AFTER_INJECTION = env.int("BASELINE_CLOSES_DAYS_AFTER_INJECTION", default=3)
if BASELINE_CLOSES_DAYS_AFTER_INJECTION < 0:
    raise ImproperlyConfigured(
        f"BASELINE_CLOSES_DAYS_AFTER_INJECTION must be 0 or more, not {BASELINE_CLOSES_DAYS_AFTER_INJECTION}"
    )
# Short safety checks after the injection (issue 15): on by default; each window is (opens, due, closes) in days
# after the injection, checked in outcomes/schedule.py. SAFETY_CHECK_REMINDER_DAYS: the one reminder, this many
# days after the invitation (0: none), sent only while the window is still open.
SAFETY_CHECKS_ENABLED = env.bool("SAFETY_CHECKS_ENABLED", default=True)
SAFETY_CHECK_WINDOWS = env.json("SAFETY_CHECK_WINDOWS", default={"d3": [2, 2, 4], "d12": [10, 10, 15]})
SAFETY_CHECK_REMINDER_DAYS = env.int("SAFETY_CHECK_REMINDER_DAYS", default=1)
# Which follow-ups after baseline a plan gets, by product ("default" for every product not named). Cell and vesicle
# products are followed to 24 months (issue 15: late harms and durability are their open questions), the rest to 12.
# A JSON object in the environment replaces entries, e.g. {"prp": ["1m", "6m", "12m", "24m"]}; checked at start-up
# (outcomes.schedule.check_timepoints_by_product).
_timepoints_by_product = env.json("FOLLOW_UP_TIMEPOINTS_BY_PRODUCT", default={})
if not isinstance(_timepoints_by_product, dict):
    raise ImproperlyConfigured(
        'FOLLOW_UP_TIMEPOINTS_BY_PRODUCT must be a JSON object such as {"prp": ["1m", "6m", "12m", "24m"]}, '
        f"not {_timepoints_by_product!r}"
    )
FOLLOW_UP_TIMEPOINTS_BY_PRODUCT = {
    "default": ["1m", "6m", "12m"],
    "bmac": ["1m", "6m", "12m", "24m"],
    "adsc": ["1m", "6m", "12m", "24m"],
    "exosome": ["1m", "6m", "12m", "24m"],
} | _timepoints_by_product
OUTCOMES_WORDING_FILE = env.str("OUTCOMES_WORDING_FILE", default="") or None
# Questionnaire wording in the patient's language: {language code: a wording file, or a folder of them (one per
# instrument)}, in the format of OUTCOMES_WORDING_FILE. English needs none (the definitions are English; the
# licensed text is OUTCOMES_WORDING_FILE). The shipped Welsh is demo wording, written for the demo: a clinic
# points "cy" at its licensed Welsh translation. A language without wording asks in English.
_wording_files = env.json("OUTCOMES_WORDING_FILES", default={})
if not isinstance(_wording_files, dict) or not all(
    isinstance(k, str) and isinstance(v, str) for k, v in _wording_files.items()
):
    raise ImproperlyConfigured(
        'OUTCOMES_WORDING_FILES must be a JSON object such as {"cy": "/etc/registry/wording-cy.json"}, '
        f"not {_wording_files!r}"
    )
OUTCOMES_WORDING_FILES = {"cy": str(BASE_DIR / "outcomes" / "instruments" / "wording" / "cy")} | _wording_files
OUTCOME_THRESHOLDS = env.json("OUTCOME_THRESHOLDS", default={})
# Outcomes dashboard: no number in a CSV download or the summary API (they may leave the clinic) describes fewer
# people than this. At least 10, UK LLC's threshold (outcomes.analysis.disclosure.FLOOR): it may be raised only.
DASHBOARD_MIN_GROUP_SIZE = env.int("DASHBOARD_MIN_GROUP_SIZE", default=10)
if DASHBOARD_MIN_GROUP_SIZE < 10:
    raise ImproperlyConfigured(
        f"DASHBOARD_MIN_GROUP_SIZE may be raised, not lowered below 10 (not {DASHBOARD_MIN_GROUP_SIZE})"
    )
# "Knees like mine" (outcomes.analysis.expectation), a page a patient may be given: no figure from fewer knees than
# this. Raises the floor max(10, DASHBOARD_MIN_GROUP_SIZE) only: a lower value is ignored.
EXPECTATION_MIN_KNEES = env.int("EXPECTATION_MIN_KNEES", default=10)
# The patient's copy of a consultation (consultations.services.patient_copy_issue): days its no-login link works.
PATIENT_COPY_LINK_DAYS = env.int("PATIENT_COPY_LINK_DAYS", default=30)
if not 1 <= PATIENT_COPY_LINK_DAYS <= 365:
    raise ImproperlyConfigured(f"PATIENT_COPY_LINK_DAYS must be 1 to 365 days, not {PATIENT_COPY_LINK_DAYS}")
# Patient emails: daytime hours in the clinic's time zone, reminder days (checked in notifications/conf.py).
NOTIFICATIONS_SENDING_HOURS = env.str("NOTIFICATIONS_SENDING_HOURS", default="09:00-19:00")
NOTIFICATIONS_REMINDER_DAYS = env.list("NOTIFICATIONS_REMINDER_DAYS", cast=int, default=[3, 7])
NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE = env.int("NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE", default=3)
# Sending: batch size, the claim lease a live worker renews, retries of temporary mail errors (notifications/conf.py).
NOTIFICATIONS_BATCH_SIZE = env.int("NOTIFICATIONS_BATCH_SIZE", default=200)
NOTIFICATIONS_CLAIM_LEASE_SECONDS = env.int("NOTIFICATIONS_CLAIM_LEASE_SECONDS", default=120)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_BACKOFF_BASE_SECONDS = env.int("NOTIFICATIONS_BACKOFF_BASE_SECONDS", default=60)
NOTIFICATIONS_BACKOFF_MAX_SECONDS = env.int("NOTIFICATIONS_BACKOFF_MAX_SECONDS", default=14400)
NOTIFICATIONS_GATHER_MINUTES = env.int("NOTIFICATIONS_GATHER_MINUTES", default=15)
SAFETY_FLAG_RULES = env.json("SAFETY_FLAG_RULES", default={})  # format: safety/rules.py
# Adverse-event exports (XLSX, PDF, FHIR) above this many events are built by a background job, not in the request.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=2000)


def _system_uri(name: str, value: str) -> str:
    """A URI naming this registry's identifiers in exported records (FHIR identifier systems, fullUrls).
    Receivers key records on it, so it must not follow the site's host or port; a malformed one fails here."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query or parts.fragment or " " in value:
        raise ImproperlyConfigured(
            f"{name} must be an http(s) address without query or fragment, e.g. https://registry.example.org/fhir, "
            f"not {value!r}"
        )
    return value


# Set once per registry and never changed: the base of every FHIR identifier system (safety/exports/fhir_export.py).
FHIR_SYSTEM_URI_PLACEHOLDER = "https://knee-registry.example/fhir"  # laptops and tests only
FHIR_SYSTEM_URI = _system_uri("FHIR_SYSTEM_URI", env.str("FHIR_SYSTEM_URI", default=FHIR_SYSTEM_URI_PLACEHOLDER))
if PRODUCTION:
    # Records exported under a made-up system can never be matched again once the real one is set, so production
    # does not start on the placeholder or on a name that can never be registered (RFC 2606 / RFC 6761).
    _fhir_host = urlsplit(FHIR_SYSTEM_URI).hostname
    if (
        FHIR_SYSTEM_URI == FHIR_SYSTEM_URI_PLACEHOLDER
        or _fhir_host == "localhost"
        or _fhir_host.endswith((".example", ".invalid", ".test", ".localhost", ".local"))
    ):
        raise ImproperlyConfigured(
            "FHIR_SYSTEM_URI must be set in production to an http(s) address your organisation controls, e.g. "
            f"https://registry.your-hospital.org/fhir (not {FHIR_SYSTEM_URI!r}): receivers match exported records on it"
        )

# --- Operations: /metrics, logs ----------------------------------------------------------------------------
# /metrics (Prometheus text) answers a request carrying "Authorization: Bearer <METRICS_TOKEN>"; without a token
# set it is open under DEBUG (the demo) and absent (404) otherwise. notifications/views/ops.py.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be at least 32 characters: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
# One JSON object per line in production (for a log collector), readable lines on a laptop.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "registry.logging.RedactQuestionnaireTokens"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "registry.logging.json_formatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"], "formatter": LOG_FORMAT},
        # Error reports by email (when ADMINS is set) with tokens redacted from path, headers and frame locals.
        "mail_admins": {
            "level": "ERROR",
            "class": "registry.logging.RedactingAdminEmailHandler",
            "filters": ["require_debug_false", "redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Replaces Django's default "django" handlers (its console and plain mail_admins); records reach the root.
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        # "Not Found: /q/<token>/" and 500s: redacted at the logger, before any handler (or a test's caplog) sees them.
        "django.request": {"filters": ["redact_tokens"], "level": "INFO", "propagate": True},
    },
}

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 30)  # idle time-out (ASVS 3.3.2 / NIST AAL2)
SESSION_SAVE_EVERY_REQUEST = True  # expiry counts from the last request: an idle session times out
SESSION_ABSOLUTE_AGE_SECONDS = env.int("SESSION_ABSOLUTE_AGE_SECONDS", default=60 * 60 * 12)  # accounts.auth
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Sign-in: second factor, lockout (accounts/auth.py, accounts/views.py) ---------------------------------
AUTHENTICATION_BACKENDS = [
    "accounts.auth.LoginThrottleBackend",  # django-axes: refuses locked-out username+IP pairs
    "django.contrib.auth.backends.ModelBackend",
]
# Every staff user must enrol TOTP in production; elsewhere only clinics with require_two_factor (and anyone
# who enrolled) are asked for a code.
TWO_FACTOR_REQUIRED_FOR_ALL = env.bool("TWO_FACTOR_REQUIRED_FOR_ALL", default=PRODUCTION)
OTP_TOTP_ISSUER = "Knee Outcomes Registry"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))  # the lockout ends by itself
# Per username AND address: a stranger elsewhere can never lock a clinician out of their own computer.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # hammering during a lockout does not extend it
AXES_CLIENT_IP_CALLABLE = "accounts.auth.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "code", "token"]

# --- Content Security Policy (django-csp 4), everywhere so a violation shows up on a laptop first -----------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}
X_FRAME_OPTIONS = "DENY"
# A form sent after its page expired: the site's 403 page in plain words (a patient's own on /q/), not Django's.
CSRF_FAILURE_VIEW = "registry.views_errors.csrf_failure"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

"""Gunicorn settings (`gunicorn -c config/gunicorn.py config.wsgi`). The access log passes through the same
token-redacting filter as Django's logs: questionnaire and unsubscribe links carry bearer tokens in their paths."""

import os

# PORT is also what bin/healthcheck.py asks on, so the two cannot disagree (compose maps 8000).
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))  # 3 sync workers measured best on 2 cores
timeout = 60
accesslog = "-"
# gunicorn >= 25.1 opens a control socket at $HOME/.gunicorn/gunicorn.ctl, one path for every gunicorn of the user
# (a test run next to the benchmark would share it); nothing here uses gunicornc. Older releases ignore the name.
control_socket_disable = True
# The same choice as config/settings.py's LOG_FORMAT (JSON lines in production), read here before Django loads.
_json_logs = os.environ.get("LOG_FORMAT", "json" if os.environ.get("DJANGO_ENV") == "production" else "text") == "json"
# Gunicorn merges this dict into its own defaults one top-level key at a time (`defaults.update(ours)`), so it
# defines every key those defaults have: a key left out would bring gunicorn's, whose root logger names a
# "console" handler that our "handlers" replaces, and gunicorn would refuse to start ("Unable to configure root
# logger"). tests/security/test_gunicorn_access_log.py starts a real gunicorn with it.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "registry.logging.RedactQuestionnaireTokens"}},
    "formatters": {
        # gunicorn's own error-log format; access lines are formatted by gunicorn before they are logged.
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
        "access": {"format": "%(message)s"},
        # Production's: one JSON object per line, the access line as its message (registry/logging.py).
        "json": {"()": "registry.logging.json_formatter"},
    },
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if _json_logs else "access",
            "filters": ["redact_tokens"],
        },
        "error": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json" if _json_logs else "generic",
            "filters": ["redact_tokens"],
        },
    },
    # Until Django configures logging in each worker, anything else logged goes to stderr, redacted too.
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
    },
}

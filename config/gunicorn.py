"""Gunicorn settings (`gunicorn -c config/gunicorn.py config.wsgi`). The access log passes through the same
token-redacting filter as Django's logs: questionnaire and unsubscribe links carry bearer tokens in their paths."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))  # 3 sync workers measured best on 2 cores
timeout = 60
accesslog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "registry.logging.RedactQuestionnaireTokens"}},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "filters": ["redact_tokens"]},
        "error": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "filters": ["redact_tokens"]},
    },
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
    },
}

"""Token redaction for every log line and error report, in one place (filters and handlers named in
settings.LOGGING, config/gunicorn.py and config/celery.py; audit's access log stores paths through ``redact``).

Questionnaire, unsubscribe and patient-copy links carry a bearer token in their path: none may reach a log line or an
email. Django's AdminEmailHandler mails the request path, META (PATH_INFO, REQUEST_URI, HTTP_REFERER) and every
frame's local variables, so its handler also replaces the literal token of the request wherever else it appears
(a `token` local variable, the Referer header) before anything is sent."""

import logging
import re

from django.conf import settings
from django.utils.log import AdminEmailHandler

TOKEN_IN_PATH = re.compile(r"(/(?:q|unsubscribe|copy)/)[A-Za-z0-9_\-]{16,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)


def tokens_in(request) -> list[str]:
    if request is None:
        return []
    texts = [getattr(request, "path", ""), request.META.get("HTTP_REFERER", "")] if hasattr(request, "META") else []
    found = []
    for text in texts:
        for match in TOKEN_IN_PATH.finditer(text or ""):
            found.append(match.group(0)[len(match.group(1)) :])
    return found


def redact_all(text: str | None, tokens: list[str]) -> str | None:
    if not text:
        return text
    text = redact(text)
    for token in tokens:
        text = text.replace(token, REDACTED)
    return text


class RedactQuestionnaireTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingAdminEmailHandler(AdminEmailHandler):
    def emit(self, record):
        if not settings.ADMINS:
            return
        self._tokens = tokens_in(getattr(record, "request", None))
        super().emit(record)

    def send_mail(self, subject, message, *args, **kwargs):
        tokens = getattr(self, "_tokens", [])
        html = kwargs.pop("html_message", None)
        super().send_mail(
            redact_all(subject, tokens),
            redact_all(message, tokens),
            *args,
            html_message=redact_all(html, tokens),
            **kwargs,
        )


def json_formatter() -> logging.Formatter:
    """Production's log line: one JSON object (time, level, logger, process, message, and any `extra` fields),
    for Django (settings.LOGGING), gunicorn (config/gunicorn.py) and Celery (config/celery.py) alike."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )

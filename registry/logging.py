import logging
import re

# Questionnaire links carry a bearer token in the path: never let one reach a log line.
_TOKEN_IN_PATH = re.compile(r"(/(?:q|unsubscribe)/)[A-Za-z0-9_\-]{16,}")


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactQuestionnaireTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def json_formatter() -> logging.Formatter:
    """Production's log line: one JSON object (time, level, logger, process, message, and any `extra` fields),
    for Django (settings.LOGGING), gunicorn (config/gunicorn.py) and Celery (config/celery.py) alike."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )

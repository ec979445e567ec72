import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def structured_logs(logger=None, **kwargs):
    """Celery replaces the root logger's handlers in the worker and beat; in production (LOG_FORMAT=json) its
    lines become JSON objects like Django's, with questionnaire tokens redacted as everywhere else."""
    from django.conf import settings

    if getattr(settings, "LOG_FORMAT", "text") != "json" or logger is None:
        return
    from registry.logging import RedactQuestionnaireTokens, json_formatter

    for handler in logger.handlers:
        handler.setFormatter(json_formatter())
        handler.addFilter(RedactQuestionnaireTokens())

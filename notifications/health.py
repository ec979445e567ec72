"""Cheap reachability checks for the web's health endpoint: the database and the Celery broker. Each answers
"ok" or "unreachable" and nothing else (no host, no error text: the endpoint is public)."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        logger.warning("Health check: the database is unreachable", exc_info=True)
        return False


def broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
            try:
                return bool(client.ping())
            finally:
                client.close()
        # The laptop's filesystem broker: its queue folder must be there.
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
        return bool(folder) and Path(folder).is_dir()
    except Exception:
        logger.warning("Health check: the broker is unreachable", exc_info=True)
        return False


def health() -> dict[str, str]:
    return {
        "database": "ok" if database_ok() else "unreachable",
        "broker": "ok" if broker_ok() else "unreachable",
    }

"""A fixed-window failure counter per client IP, against guessing questionnaire tokens.

Only failures count (a token that matches no link), so a patient who reloads their own page is never locked
out; once an address is over the limit every link request from it gets 429, valid token or not, so the limit
cannot be used as an oracle. The counter is the Django cache's ``add`` + ``incr``, both atomic on Redis and on
locmem; the key expires with its window, so the lockout ends by itself.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

DEFAULT_LIMIT = 30
DEFAULT_WINDOW_SECONDS = 600


@dataclass(frozen=True)
class Limit:
    count: int
    window_seconds: int


def link_limit() -> Limit:
    # Optional setting OUTCOMES_LINK_RATE_LIMIT = (failures, seconds); read per call so tests can override it.
    count, window = getattr(settings, "OUTCOMES_LINK_RATE_LIMIT", (DEFAULT_LIMIT, DEFAULT_WINDOW_SECONDS))
    return Limit(int(count), int(window))


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites REMOTE_ADDR
    # (configure the proxy, e.g. gunicorn's --forwarded-allow-ips, rather than trusting a header here).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(bucket: str, ip: str) -> str:
    return f"ratelimit:{bucket}:{ip}"


def is_blocked(request, bucket: str = "q-link", limit: Limit | None = None) -> bool:
    limit = limit or link_limit()
    return (cache.get(_key(bucket, client_ip(request))) or 0) >= limit.count


def record_failure(request, bucket: str = "q-link", limit: Limit | None = None) -> int:
    """Count one failure for the client; returns the count in the current window."""
    limit = limit or link_limit()
    key = _key(bucket, client_ip(request))
    if cache.add(key, 1, timeout=limit.window_seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: start a new window
        cache.add(key, 1, timeout=limit.window_seconds)
        return 1

"""Brief caching of the summary, invalidated per clinic.

A summary is cached for ``DASHBOARD_CACHE_SECONDS`` (default 60) under a key made of the user, the filters,
the day, and the data version of every clinic the user can see. A new (or amended) submission replaces its
clinic's version with a fresh random token, so the next load for anyone who sees that clinic misses the cache and
recomputes. A version that is missing (evicted, or a cold cache) is minted anew, which can only cause a miss.

The version lives in the Django cache, so every web process must share one cache (Redis in production): with
a per-process cache a submission handled by another process would go unseen until the entry expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache

PREFIX = "outcomes:summary"


def _version_key(clinic_id: int) -> str:
    return f"{PREFIX}:clinic-version:{clinic_id}"


def bump(clinic_id: int) -> None:
    cache.set(_version_key(clinic_id), uuid.uuid4().hex, timeout=None)


def _versions(clinic_ids) -> list[str]:
    keys = [_version_key(pk) for pk in sorted(clinic_ids)]
    found = cache.get_many(keys)
    missing = {k: uuid.uuid4().hex for k in keys if k not in found}
    for key, token in missing.items():
        # add(): if another process minted one in between, theirs wins and is read back.
        if not cache.add(key, token, timeout=None):
            found[key] = cache.get(key)
    found |= {k: v for k, v in missing.items() if k not in found}
    return [str(found[k]) for k in keys]


def key_for(user, cleaned_filters: Mapping[str, Any], clinics: Mapping[int, str], today: dt.date) -> str:
    payload = {
        "user": user.pk,
        "filters": {k: str(v) for k, v in sorted(cleaned_filters.items()) if v not in (None, "", [])},
        "today": today.isoformat(),
        "versions": _versions(clinics.keys()),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{PREFIX}:{digest}"


def seconds() -> int:
    return int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 60))


def load(key: str) -> dict | None:
    return cache.get(key) if seconds() > 0 else None


def store(key: str, value: dict) -> None:
    if seconds() > 0:
        cache.set(key, value, timeout=seconds())

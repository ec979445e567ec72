"""Brief caching of the summary, invalidated per clinic by the database.

A summary is cached for ``DASHBOARD_CACHE_SECONDS`` (default 60) under a key made of the user, the filters, the
day, and the name and data version of every clinic the user can see. The versions live in the database
(outcomes.models.ClinicDataVersion): every write to a plan, patient, injection, follow-up, submission or adverse
event queues its plan through database triggers, whatever wrote it (a service, a bulk update, the admin, raw SQL),
and rebuilding a queued plan bumps its clinic's version. A summary rebuilds whatever is queued before it builds its
key (outcomes.analysis.summary.summarise), so a change committed before the request always makes a new key: the
cached summary is never staler than the last commit, and a change in one clinic leaves the other clinics' cached
summaries alone.

Being in the database, the versions do not depend on the cache being shared: with a per-process cache each process
keeps its own summaries, all of them current.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache

from outcomes.models import ClinicDataVersion

PREFIX = "outcomes:summary"


def _versions(clinic_ids) -> dict[int, int]:
    """The data version of each clinic (0 until its first change), in one query."""
    found = dict(ClinicDataVersion.objects.filter(clinic_id__in=list(clinic_ids)).values_list("clinic_id", "version"))
    return {pk: found.get(pk, 0) for pk in sorted(clinic_ids)}


def key_for(user, cleaned_filters: Mapping[str, Any], clinics: Mapping[int, str], today: dt.date) -> str:
    payload = {
        "user": user.pk,
        "filters": {k: str(v) for k, v in sorted(cleaned_filters.items()) if v not in (None, "", [])},
        "today": today.isoformat(),
        # Names too: they label the clinic rows, and renaming a clinic changes no plan.
        "clinics": [[pk, clinics[pk], version] for pk, version in _versions(clinics.keys()).items()],
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{PREFIX}:{digest}"


def protected_key_for(user, cleaned_filters: Mapping[str, Any], generated_at: str) -> str:
    """The key of the protected copy of the exact summary made at ``generated_at``: it changes whenever that summary
    is rebuilt, without asking the database for the clinics' versions again."""
    payload = {
        "user": user.pk,
        "filters": {k: str(v) for k, v in sorted(cleaned_filters.items()) if v not in (None, "", [])},
        "generated_at": str(generated_at),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{PREFIX}:protected:{digest}"


def seconds() -> int:
    return int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 60))


def load(key: str) -> dict | None:
    return cache.get(key) if seconds() > 0 else None


def store(key: str, value: dict) -> None:
    if seconds() > 0:
        cache.set(key, value, timeout=seconds())

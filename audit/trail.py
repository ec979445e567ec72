"""The audit trail: every recorded change of clinical data (django-simple-history rows) and every logged read
(AccessLog), scoped to the clinics the reader may audit, as rows for the page and for a streamed CSV.

A history source is any model with simple-history that belongs to a patient (a `patient`, `follow_up` or
`clinic` field, or the Patient itself) or is the Clinic (its settings), so a clinical model that gains history
joins the trail by itself.
"""

import csv
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from simple_history.models import registered_models

from audit.models import AccessLog
from registry import downloads
from registry.choices import Role
from registry.models import Clinic, Patient
from registry.scoping import is_administrator

# Identifying values are never copied into the trail: it says that they changed, not to what.
IDENTIFYING_FIELDS = frozenset({"full_name", "email", "phone", "recipient", "token_hash"})
HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
CSV_HEADER = ["at", "event", "record", "record_id", "registry_number", "clinic_id", "user", "reason", "changes", "path"]
VALUE_LIMIT = 80


def auditable_clinics(user) -> QuerySet[Clinic]:
    """Clinics whose trail the user may read: administrators all; auditors and leads their own clinics."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    if is_administrator(user):
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user, memberships__role__in=[Role.AUDITOR, Role.LEAD]).distinct()


def can_audit(user) -> bool:
    return is_administrator(user) or auditable_clinics(user).exists()


@dataclass(frozen=True)
class Source:
    model: type
    clinic_path: str
    number_path: str

    @property
    def history(self) -> QuerySet:
        return getattr(self.model, self.model._meta.simple_history_manager_attribute).model.objects.all()

    @property
    def fields(self) -> list[str]:
        history_names = {f.attname for f in self.history.model._meta.concrete_fields}
        skip = {"id", "created_at", "updated_at"}
        return [
            f.attname for f in self.model._meta.concrete_fields if f.attname in history_names and f.attname not in skip
        ]


def history_sources() -> list[Source]:
    sources = []
    for model in sorted(set(registered_models.values()), key=lambda m: m._meta.label):
        names = {f.name for f in model._meta.fields}
        if model is Patient:
            sources.append(Source(model, "clinic_id", "registry_number"))
        elif model is Clinic:  # its settings: defaults, daily caps
            sources.append(Source(model, "id", ""))
        elif "patient" in names:
            sources.append(Source(model, "patient__clinic_id", "patient__registry_number"))
        elif "follow_up" in names:
            sources.append(Source(model, "follow_up__clinic_id", "follow_up__patient__registry_number"))
        elif "clinic" in names:
            sources.append(Source(model, "clinic_id", ""))
    return sources


@dataclass
class Event:
    at: datetime
    event: str
    record: str
    record_id: str
    registry_number: str
    clinic_id: int | None
    user: str
    reason: str
    changes: str
    path: str

    def as_row(self) -> list[str]:
        return [
            self.at.isoformat(),
            self.event,
            self.record,
            self.record_id,
            self.registry_number,
            "" if self.clinic_id is None else str(self.clinic_id),
            self.user,
            self.reason,
            self.changes,
            self.path,
        ]


@dataclass(frozen=True)
class TrailFilter:
    registry_number: str = ""
    username: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _shown(field: str, value) -> str:
    if field in IDENTIFYING_FIELDS:
        return "[set]" if value not in ("", None) else "[empty]"
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _changes(fields: list[str], before: dict | None, after: dict) -> str:
    if before is None:
        return ""
    parts = [
        f"{name}: {_shown(name, before.get(name))} → {_shown(name, after.get(name))}"
        for name in fields
        if before.get(name) != after.get(name)
    ]
    return "; ".join(parts)


def _history_events(source: Source, clinic_ids, filters: TrailFilter, *, newest_first: bool, limit: int | None):
    qs = source.history.filter(**{f"{source.clinic_path}__in": clinic_ids})
    if filters.registry_number:
        if not source.number_path:
            return
        qs = qs.filter(**{source.number_path: filters.registry_number})
    if filters.username:
        qs = qs.filter(history_user__username=filters.username)
    if filters.since:
        qs = qs.filter(history_date__gte=filters.since)
    if filters.until:
        qs = qs.filter(history_date__lt=filters.until)
    fields = source.fields
    values = [
        "id",
        *fields,
        "history_id",
        "history_date",
        "history_type",
        "history_change_reason",
        "history_user__username",
    ]
    values += [source.clinic_path] + ([source.number_path] if source.number_path else [])
    if newest_first:
        rows: Iterable[dict] = qs.order_by("-history_date", "-history_id").values(*values)[:limit]
        previous_of = _previous_rows(source, fields)
    else:
        # Grouped by record and in time order, so each row's change is against the row before it, in O(1) memory.
        rows = qs.order_by("id", "history_date", "history_id").values(*values).iterator(chunk_size=2000)
        previous_of = None
    last: dict | None = None
    label = source.model._meta.label
    for row in rows:
        if previous_of is not None:
            before = previous_of(row) if row["history_type"] == "~" else None
        else:
            before = last if last is not None and last["id"] == row["id"] and row["history_type"] != "+" else None
            last = row
        yield Event(
            at=row["history_date"],
            event=HISTORY_TYPES.get(row["history_type"], row["history_type"]),
            record=label,
            record_id=str(row["id"]),
            registry_number=row.get(source.number_path, "") or "" if source.number_path else "",
            clinic_id=row[source.clinic_path],
            user=row["history_user__username"] or "",
            reason=row["history_change_reason"] or "",
            changes=_changes(fields, before, row),
            path="",
        )


def _previous_rows(source: Source, fields: list[str]):
    def previous(row: dict) -> dict | None:
        return (
            source.history.filter(id=row["id"], history_date__lte=row["history_date"])
            .exclude(history_id=row["history_id"])
            .order_by("-history_date", "-history_id")
            .values(*fields)
            .first()
        )

    return previous


def _access_events(clinic_ids, filters: TrailFilter, *, newest_first: bool, limit: int | None) -> Iterator[Event]:
    qs = AccessLog.objects.filter(Q(clinic_id__in=clinic_ids))
    if filters.registry_number:
        qs = qs.filter(registry_number=filters.registry_number)
    if filters.username:
        qs = qs.filter(username=filters.username)
    if filters.since:
        qs = qs.filter(at__gte=filters.since)
    if filters.until:
        qs = qs.filter(at__lt=filters.until)
    qs = qs.select_related("content_type").order_by(*(["-at", "-id"] if newest_first else ["at", "id"]))
    rows = qs[:limit] if limit else qs.iterator(chunk_size=2000)
    for log in rows:
        yield Event(
            at=log.at,
            event=log.action,
            record=f"{log.content_type.app_label}.{log.content_type.model}" if log.content_type else "",
            record_id=log.object_id,
            registry_number=log.registry_number,
            clinic_id=log.clinic_id,
            user=log.username,
            reason=log.detail,
            changes="",
            path=log.path,
        )


def recent_events(user, filters: TrailFilter, *, limit: int = 100) -> list[Event]:
    """The newest events across every source, for the auditor's page."""
    clinic_ids = list(auditable_clinics(user).values_list("id", flat=True))
    streams = [_access_events(clinic_ids, filters, newest_first=True, limit=limit)]
    streams += [
        _history_events(source, clinic_ids, filters, newest_first=True, limit=limit) for source in history_sources()
    ]
    merged = heapq.merge(*streams, key=lambda e: e.at, reverse=True)
    return [event for _, event in zip(range(limit), merged, strict=False)]


def all_events(user, filters: TrailFilter) -> Iterator[Event]:
    """Everything, source by source, for the streamed CSV (memory stays flat however long the trail)."""
    clinic_ids = list(auditable_clinics(user).values_list("id", flat=True))
    for source in history_sources():
        yield from _history_events(source, clinic_ids, filters, newest_first=False, limit=None)
    yield from _access_events(clinic_ids, filters, newest_first=False, limit=None)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ (or a tab/CR) is run as a formula by spreadsheet programs (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_lines(events: Iterable[Event], *, bom: bool = False) -> Iterator[str]:
    """The header then a line per event; ``bom``: start with the byte-order mark Excel needs (registry.downloads)."""
    writer = csv.writer(_Echo())
    yield (downloads.BOM if bom else "") + writer.writerow(CSV_HEADER)
    for event in events:
        yield writer.writerow([_csv_safe(cell) for cell in event.as_row()])

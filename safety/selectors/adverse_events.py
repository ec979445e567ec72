"""Reads of adverse events and exports, already scoped by registry.scoping (outside the user's clinics: 404)."""

import datetime as dt
from dataclasses import asdict, dataclass, field

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from registry.choices import InjectionStatus, Role
from registry.models import Clinic, Injection
from registry.scoping import clinics_for, injections_for, is_administrator
from safety.choices import OPEN_OUTCOMES, RESOLVED_OUTCOMES, EventStatus, ReportKind
from safety.models import AdverseEvent, ExportJob, ExportLog, RegulatoryReport

LIST_ORDER = ("-is_serious", "-onset_on", "-id")
# Who may take exports: auditors and clinic leads (administrators everywhere).
EXPORT_ROLES = (Role.AUDITOR, Role.LEAD)


def events_for(user, *, write: bool = False) -> QuerySet[AdverseEvent]:
    """Adverse events of the clinics the user may read (or, with write=True, correct)."""
    return AdverseEvent.objects.filter(clinic__in=clinics_for(user, write=write).values("id"))


def susar_clocks_for(user) -> QuerySet[AdverseEvent]:
    """SUSAR candidates of the user's clinics with no initial report yet, soonest due first (the attention page)."""
    return (
        events_for(user)
        .susar_clocks_running()
        .select_related("patient", "index_injection")
        .prefetch_related("index_injection__components")  # the row names every product ("BMAC + PRP")
    )


@dataclass(frozen=True)
class SusarStatus:
    """An event's expedited-reporting position, for its page and the report form."""

    candidate: bool
    due_on: dt.date | None = None
    days_left: int | None = None  # 0 on the last day, negative once overdue
    follow_up_due_on: dt.date | None = None
    initial_report: RegulatoryReport | None = None
    follow_up_reported: bool = False

    @property
    def days_overdue(self) -> int:
        return max(0, -(self.days_left or 0))


def susar_status(event: AdverseEvent, today: dt.date | None = None) -> SusarStatus:
    if not event.is_susar_candidate:
        return SusarStatus(candidate=False)
    reports = list(event.regulatory_reports.order_by("submitted_on", "id"))
    initial = next((r for r in reports if r.kind == ReportKind.INITIAL), None)
    return SusarStatus(
        candidate=True,
        due_on=event.susar_report_due_on,
        days_left=event.susar_days_left(today or timezone.localdate()),
        follow_up_due_on=event.susar_follow_up_due_on,
        initial_report=initial,
        follow_up_reported=any(r.kind == ReportKind.FOLLOW_UP for r in reports),
    )


def reports_for(user) -> QuerySet[RegulatoryReport]:
    """Regulatory reports of events the user may read."""
    return RegulatoryReport.objects.filter(event__clinic__in=clinics_for(user).values("id"))


def export_clinics_for(user) -> QuerySet[Clinic]:
    """Clinics whose adverse events the user may export: where they are an auditor or the lead."""
    clinics = clinics_for(user)
    if is_administrator(user):
        return clinics
    return clinics.filter(memberships__user=user, memberships__role__in=EXPORT_ROLES).distinct()


def can_export(user) -> bool:
    return export_clinics_for(user).exists()


@dataclass(frozen=True)
class EventFilters:
    """What lists, the API and every export filter on. JSON-able (asdict) for export logs and jobs."""

    clinic_ids: list[int] = field(default_factory=list)
    product: str = ""
    onset_from: dt.date | None = None
    onset_to: dt.date | None = None
    serious: bool | None = None
    causality: list[str] = field(default_factory=list)
    status: str = ""
    category: str = ""
    registry_number: str = ""

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("onset_from", "onset_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def from_json(cls, data: dict) -> "EventFilters":
        data = dict(data or {})
        for key in ("onset_from", "onset_to"):
            if data.get(key):
                data[key] = dt.date.fromisoformat(data[key])
        return cls(**data)


def filter_events(events: QuerySet[AdverseEvent], filters: EventFilters) -> QuerySet[AdverseEvent]:
    if filters.clinic_ids:
        events = events.filter(clinic_id__in=filters.clinic_ids)
    if filters.product:
        # "Of the related injections": any of them (EXISTS, so no duplicate rows and no DISTINCT).
        through = AdverseEvent.injections.through
        events = events.filter(
            Exists(through.objects.filter(adverseevent_id=OuterRef("pk"), injection__product=filters.product))
        )
    if filters.onset_from:
        events = events.filter(onset_on__gte=filters.onset_from)
    if filters.onset_to:
        events = events.filter(onset_on__lte=filters.onset_to)
    if filters.serious is not None:
        events = events.filter(is_serious=filters.serious)
    if filters.causality:
        events = events.filter(causality__in=filters.causality)
    if filters.status == EventStatus.OPEN:
        events = events.filter(outcome__in=OPEN_OUTCOMES)
    elif filters.status == EventStatus.RESOLVED:
        events = events.filter(outcome__in=RESOLVED_OUTCOMES)
    if filters.category:
        events = events.filter(category=filters.category)
    if filters.registry_number:
        events = events.filter(patient__registry_number__iexact=filters.registry_number)
    return events


def events_list(user, filters: EventFilters) -> QuerySet[AdverseEvent]:
    return (
        filter_events(events_for(user), filters)
        .select_related("patient", "clinic", "index_injection")
        .prefetch_related("index_injection__components")  # the list names every product ("BMAC + PRP")
        .order_by(*LIST_ORDER)
    )


def events_for_export(user, filters: EventFilters) -> QuerySet[AdverseEvent]:
    """What an export of `user` holds: events of the clinics they may export, filtered, in a stable order."""
    events = AdverseEvent.objects.filter(clinic__in=export_clinics_for(user).values("id"))
    return filter_events(events, filters).order_by("onset_on", "id")


def injections_given_by_product(user, filters: EventFilters) -> dict[str, int]:
    """The denominator of rates: injections given in the period, per product, in the clinics exported (SQL)."""
    injections = injections_for(user).filter(
        status=InjectionStatus.GIVEN, patient__clinic__in=export_clinics_for(user).values("id")
    )
    if filters.clinic_ids:
        injections = injections.filter(patient__clinic_id__in=filters.clinic_ids)
    if filters.product:
        injections = injections.filter(product=filters.product)
    if filters.onset_from:
        injections = injections.filter(injected_on__gte=filters.onset_from)
    if filters.onset_to:
        injections = injections.filter(injected_on__lte=filters.onset_to)
    rows = injections.order_by().values("product").annotate(n=Count("id")).values_list("product", "n")
    return dict(rows)


def events_by_product_and_seriousness(events: QuerySet[AdverseEvent]) -> dict[tuple[str, bool], int]:
    """Counts per (product of the index injection, serious) in SQL."""
    rows = (
        events.order_by()
        .values("index_injection__product", "is_serious")
        .annotate(n=Count("id"))
        .values_list("index_injection__product", "is_serious", "n")
    )
    return {(product, serious): n for product, serious, n in rows}


def export_jobs_for(user) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(requested_by=user)


def export_logs_for(user) -> QuerySet[ExportLog]:
    """Exports readable by the user: those that covered any clinic they may export (administrators: all)."""
    logs = ExportLog.objects.select_related("user")
    if is_administrator(user):
        return logs
    touched = ExportLog.clinics.through.objects.filter(
        exportlog_id=OuterRef("pk"), clinic_id__in=export_clinics_for(user).values("id")
    )
    return logs.filter(Exists(touched))


def injections_choosable(user, patient) -> QuerySet[Injection]:
    return injections_for(user, write=True).filter(patient=patient).select_related("plan").order_by("-injected_on")


# --- an event's audit trail -------------------------------------------------------------------------------------

TRAIL_SKIP = {
    "id",
    "version",
    "assessed_at",
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user",
}


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class TrailEntry:
    at: dt.datetime
    who: str
    kind: str  # "recorded" or "corrected"
    reason: str
    version: int
    changes: list[Change]


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):  # m2m: [{"adverseevent": 1, "injection": 2}, ...]
        ids = sorted(row.get("injection") for row in value if isinstance(row, dict))
        return ", ".join(f"injection #{i}" for i in ids) or "—"
    return str(value)


def event_trail(event: AdverseEvent) -> list[TrailEntry]:
    """Every version of the event, oldest first: who, when, why, and each field's before -> after."""
    labels = {f.name: str(f.verbose_name) for f in AdverseEvent._meta.get_fields() if hasattr(f, "verbose_name")}
    records = list(event.history.select_related("history_user").order_by("history_date", "history_id"))
    entries = []
    previous = None
    for record in records:
        if previous is None:
            changes = []
            kind = "recorded"
        else:
            delta = record.diff_against(previous)
            changes = [
                Change(c.field, labels.get(c.field, c.field), _shown(c.old), _shown(c.new))
                for c in delta.changes
                if c.field not in TRAIL_SKIP
            ]
            kind = (
                "corrected"
                if record.history_change_reason and not record.history_change_reason.startswith("Recorded")
                else "recorded"
            )
        user = record.history_user
        entries.append(
            TrailEntry(
                at=record.history_date,
                who=(user.get_full_name() or user.get_username()) if user else "system",
                kind=kind,
                reason=record.history_change_reason or "",
                version=record.version,
                changes=changes,
            )
        )
        previous = record
    return entries

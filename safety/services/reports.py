"""Write path for regulatory reports: recording that an event was reported (sponsor, MHRA, FDA, device vigilance).

A report is recorded, never edited or deleted here: a mistaken one is followed by a corrected one with notes
(the history keeps both). Writers are those who may record adverse events in the event's clinic.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from registry.scoping import patients_for
from safety.models import AdverseEvent, RegulatoryReport

REPORT_FIELDS = ("route", "kind", "submitted_on", "reference", "notes")


@transaction.atomic
def regulatory_report_record(*, event: AdverseEvent, by, data: dict[str, Any]) -> RegulatoryReport:
    """Record a report made for ``event``. An initial report stops the event's SUSAR clock."""
    unknown = sorted(set(data) - set(REPORT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown field."))
    if not patients_for(by, write=True).filter(pk=event.patient_id).exists():
        raise PermissionDenied("Your role in this clinic cannot record regulatory reports.")
    data = {name: value for name, value in data.items() if value is not None}
    report = RegulatoryReport(event=event, submitted_by=by, recorded_at=timezone.now(), **data)
    report.reference = (report.reference or "").strip()
    report.full_clean()
    report._history_user = by
    report._change_reason = f"Reported to {report.get_route_display()}"
    report.save()
    return report

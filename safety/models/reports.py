"""Expedited (regulatory) reports made for an adverse event: where it went, when, and the reference received.

A report is a record of something done outside the registry (a sponsor's form, an MHRA Yellow Card, an FDA
MedWatch form, a device-vigilance report for a processing kit); the registry keeps who recorded it and its
history, and an initial report stops the event's SUSAR clock (safety.models.AdverseEventQuerySet).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.history import HistoricalRecords
from safety.choices import ReportKind, ReportRoute


class RegulatoryReport(models.Model):
    event = models.ForeignKey("safety.AdverseEvent", on_delete=models.PROTECT, related_name="regulatory_reports")
    route = models.CharField("sent to", max_length=20, choices=ReportRoute.choices)
    kind = models.CharField("report", max_length=12, choices=ReportKind.choices, default=ReportKind.INITIAL)
    submitted_on = models.DateField("date submitted")
    reference = models.CharField(
        "reference", max_length=80, help_text="The reference the recipient gave (e.g. the Yellow Card number)."
    )
    notes = models.TextField(blank=True, max_length=2000)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["submitted_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(route__in=ReportRoute.values), name="report_route_valid"),
            models.CheckConstraint(condition=Q(kind__in=ReportKind.values), name="report_kind_valid"),
            models.CheckConstraint(condition=~Q(reference=""), name="report_reference_given"),
        ]
        indexes = [
            # The SUSAR clock: "has this event an initial report?" (EXISTS per candidate).
            models.Index(fields=["event", "kind"], name="report_event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.get_route_display()} on {self.submitted_on:%d %b %Y}"

    def clean(self) -> None:
        errors = {}
        if self.submitted_on and self.submitted_on > timezone.localdate():
            errors["submitted_on"] = "The submission date cannot be in the future."
        if self.submitted_on and self.event_id and self.submitted_on < self.event.onset_on:
            errors["submitted_on"] = "The report cannot be before the event's onset."
        if not (self.reference or "").strip():
            errors["reference"] = "Give the reference the recipient gave."
        if self.route == ReportRoute.OTHER and not (self.notes or "").strip():
            errors["notes"] = "Say where the report went."
        if errors:
            raise ValidationError(errors)

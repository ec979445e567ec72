"""The exports auditors take of adverse events: background jobs and the log every export leaves."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from safety.choices import ExportFormat, ExportStatus

EXPORT_LINK_LIFETIME = dt.timedelta(hours=24)


class ExportJob(models.Model):
    """An export too large to build within a request, built by a Celery task. Only its requester may download the
    file, until it expires."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    row_count = models.PositiveIntegerField(null=True, blank=True)
    file_path = models.CharField(max_length=300, blank=True, help_text="Relative to MEDIA_ROOT.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(format__in=ExportFormat.values), name="exportjob_format_valid"),
            models.CheckConstraint(condition=Q(status__in=ExportStatus.values), name="exportjob_status_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="exportjob_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.get_format_display()}, {self.get_status_display().lower()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and timezone.now() >= self.expires_at

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)


class ExportLog(models.Model):
    """That an export happened: who, when, which format and filters, how many rows. Written once, never changed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    format = models.CharField(max_length=8)
    filters = models.JSONField(default=dict, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(ExportJob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The clinics the export covered, so an auditor sees the exports touching their own clinics.
    clinics = models.ManyToManyField("registry.Clinic", related_name="+")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} exported {self.row_count} events as {self.format} on {self.at:%Y-%m-%d %H:%M}"

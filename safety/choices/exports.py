"""Choices of adverse-event exports (safety.models.exports)."""

from django.db import models


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV (one row per event)"
    XLSX = "xlsx", "Excel workbook (summary and detail)"
    PDF = "pdf", "PDF governance report"
    FHIR = "fhir", "FHIR R4 Bundle (JSON)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"

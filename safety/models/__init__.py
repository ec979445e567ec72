"""Models of the safety app, by subject (Django finds them through this package)."""

from safety.models.adverse_events import AdverseEvent
from safety.models.exports import EXPORT_LINK_LIFETIME, ExportJob, ExportLog
from safety.models.flags import MAX_EVALUATION_ATTEMPTS, SUMMARY_TEXT_LENGTH, Evaluation, Flag
from safety.models.reports import RegulatoryReport

__all__ = [
    "EXPORT_LINK_LIFETIME",
    "MAX_EVALUATION_ATTEMPTS",
    "SUMMARY_TEXT_LENGTH",
    "AdverseEvent",
    "Evaluation",
    "ExportJob",
    "ExportLog",
    "Flag",
    "RegulatoryReport",
]

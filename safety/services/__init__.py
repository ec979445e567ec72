"""Write paths of the safety app, by subject: flags, adverse events (exports: safety.exports.service).
Import from here."""

from safety.services.adverse_events import (
    ASSESSMENT_FIELDS,
    CAUSALITY_FIELDS,
    EVENT_FIELDS,
    SEPTIC_LOW_GRADE,
    STAGED_FIELDS,
    UnconfirmedEventWarnings,
    VersionConflict,
    adverse_event_correct,
    adverse_event_record,
    default_source,
    flag_record_event,
)
from safety.services.flags import (
    MAX_ERROR_LENGTH,
    baseline_submission_for,
    flag_dismiss,
    flag_event_recorded,
    flag_raise,
    flag_review,
    flag_start_review,
    flags_evaluate,
    previous_submission_for,
    submission_measures,
)
from safety.services.reports import REPORT_FIELDS, regulatory_report_record

__all__ = [
    "ASSESSMENT_FIELDS",
    "CAUSALITY_FIELDS",
    "EVENT_FIELDS",
    "MAX_ERROR_LENGTH",
    "REPORT_FIELDS",
    "SEPTIC_LOW_GRADE",
    "STAGED_FIELDS",
    "UnconfirmedEventWarnings",
    "VersionConflict",
    "adverse_event_correct",
    "adverse_event_record",
    "baseline_submission_for",
    "default_source",
    "flag_dismiss",
    "flag_event_recorded",
    "flag_raise",
    "flag_record_event",
    "flag_review",
    "flag_start_review",
    "flags_evaluate",
    "previous_submission_for",
    "regulatory_report_record",
    "submission_measures",
]

"""Forms of the safety app, by subject. Import from here."""

from safety.forms.adverse_events import (
    AdverseEventCorrectForm,
    AdverseEventForm,
    DateInput,
    EventListFilterForm,
    ExportForm,
    RegulatoryReportForm,
)
from safety.forms.flags import (
    DismissForm,
)

__all__ = [
    "AdverseEventCorrectForm",
    "AdverseEventForm",
    "DateInput",
    "DismissForm",
    "EventListFilterForm",
    "ExportForm",
    "RegulatoryReportForm",
]

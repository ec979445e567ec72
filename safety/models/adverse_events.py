"""Adverse events after an injection.

An adverse event is never deleted: it is corrected through safety.services.adverse_events with a reason, and every
version is kept by django-simple-history (who, when, before and after, why). `version` is bumped on every change,
so two clinicians editing the same event cannot silently overwrite each other (optimistic concurrency).
"""

from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.history import HistoricalRecords
from safety.choices import (
    OUTCOME_CODES,
    RESOLVED_OUTCOMES,
    SERIOUSNESS_CRITERIA,
    SERIOUSNESS_FIELDS,
    ActionTaken,
    Causality,
    EventCategory,
    EventSource,
    EventStatus,
    Expectedness,
    Outcome,
    Relatedness,
    Severity,
)

_ANY_CRITERION = reduce(or_, (Q(**{field: True}) for field in SERIOUSNESS_FIELDS))
_NO_CRITERION = Q(**dict.fromkeys(SERIOUSNESS_FIELDS, False))


def _choice_check(field: str, values, name: str, *, blank: bool = False) -> models.CheckConstraint:
    allowed = [*values, ""] if blank else list(values)
    return models.CheckConstraint(condition=Q(**{f"{field}__in": allowed}), name=name)


class AdverseEvent(models.Model):
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="adverse_events")
    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="adverse_events")
    injections = models.ManyToManyField("registry.Injection", related_name="adverse_events")
    # The injection exports describe (product, protocol, selection snapshot): the latest of `injections` given on
    # or before onset. Kept by the services, so a streamed export reads it with a join instead of a subquery.
    index_injection = models.ForeignKey("registry.Injection", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=EventSource.choices)
    flag = models.ForeignKey(
        "safety.Flag", null=True, blank=True, on_delete=models.PROTECT, related_name="adverse_events"
    )

    onset_on = models.DateField("onset date")
    category = models.CharField(max_length=24, choices=EventCategory.choices)
    description = models.TextField(help_text="What happened, relevant tests and results: the case narrative.")
    severity = models.PositiveSmallIntegerField("severity (CTCAE grade)", choices=Severity.choices)

    serious_death = models.BooleanField("results in death", default=False)
    serious_life_threatening = models.BooleanField("life-threatening", default=False)
    serious_hospitalisation = models.BooleanField("requires or prolongs hospitalisation", default=False)
    serious_disability = models.BooleanField("persistent or significant disability", default=False)
    serious_congenital_anomaly = models.BooleanField("congenital anomaly / birth defect", default=False)
    serious_other_medically_important = models.BooleanField("other medically important event", default=False)
    # Derived from the six criteria (sync_derived); a constraint keeps it honest. Stored so lists sort on it.
    is_serious = models.BooleanField(default=False, editable=False)

    causality = models.CharField("causality (WHO-UMC)", max_length=16, choices=Causality.choices)
    relatedness = models.CharField("related to", max_length=12, choices=Relatedness.choices)
    expectedness = models.CharField(max_length=12, choices=Expectedness.choices)
    action_taken = models.CharField(max_length=20, choices=ActionTaken.choices)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    outcome_on = models.DateField("outcome date", null=True, blank=True)
    # MedDRA is licensed: only the code and version are stored, never the dictionary.
    meddra_code = models.CharField(
        "MedDRA LLT code", max_length=8, blank=True, help_text="Optional: 8-digit lowest-level term code."
    )
    meddra_version = models.CharField("MedDRA version", max_length=8, blank=True)

    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    history = HistoricalRecords(m2m_fields=[injections])

    class Meta:
        ordering = ["-is_serious", "-onset_on", "-id"]
        constraints = [
            _choice_check("source", EventSource.values, "ae_source_valid"),
            _choice_check("category", EventCategory.values, "ae_category_valid"),
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=5), name="ae_severity_1_5"),
            _choice_check("causality", Causality.values, "ae_causality_valid"),
            _choice_check("relatedness", Relatedness.values, "ae_relatedness_valid"),
            _choice_check("expectedness", Expectedness.values, "ae_expectedness_valid"),
            _choice_check("action_taken", ActionTaken.values, "ae_action_taken_valid"),
            _choice_check("outcome", Outcome.values, "ae_outcome_valid"),
            models.CheckConstraint(
                condition=(Q(is_serious=True) & _ANY_CRITERION) | (Q(is_serious=False) & _NO_CRITERION),
                name="ae_is_serious_derived",
            ),
            models.CheckConstraint(
                condition=~Q(severity=Severity.DEATH) | Q(serious_death=True, outcome=Outcome.FATAL),
                name="ae_grade_5_is_fatal_death",
            ),
            models.CheckConstraint(
                condition=Q(outcome_on__isnull=True) | Q(outcome_on__gte=models.F("onset_on")),
                name="ae_outcome_after_onset",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="ae_version_positive"),
        ]
        indexes = [
            # The list: a clinic's events, serious first, newest onset first.
            models.Index(fields=["clinic", "-is_serious", "-onset_on"], name="ae_clinic_list"),
            # Exports and the API's date filter: events by onset across the auditor's clinics.
            models.Index(fields=["onset_on"], name="ae_onset"),
        ]

    def __str__(self) -> str:
        return f"Adverse event #{self.pk}: {self.get_category_display()}"

    def sync_derived(self) -> None:
        """Set what follows from other fields (is_serious). Services call it before saving."""
        self.is_serious = any(getattr(self, field) for field in SERIOUSNESS_FIELDS)

    def clean(self) -> None:
        self.sync_derived()
        errors: dict[str, list[str]] = {}
        if self.severity == Severity.DEATH:
            if not self.serious_death:
                errors.setdefault("serious_death", []).append("A grade 5 event results in death: tick 'death'.")
            if self.outcome != Outcome.FATAL:
                errors.setdefault("outcome", []).append("A grade 5 event has the outcome 'fatal'.")
        if self.outcome == Outcome.FATAL and not self.serious_death:
            errors.setdefault("serious_death", []).append("A fatal outcome makes the event serious: tick 'death'.")
        if self.category == EventCategory.SEPTIC_ARTHRITIS and not self.is_serious:
            # Issue 15: septic arthritis is serious by definition (ICH E2A: at least medically important).
            errors.setdefault("category", []).append(
                "Septic arthritis is a serious event: tick the seriousness criterion that applies "
                "(usually hospitalisation, otherwise 'other medically important event')."
            )
        if self.onset_on and self.onset_on > timezone.localdate():
            errors.setdefault("onset_on", []).append("The onset date cannot be in the future.")
        if self.outcome in RESOLVED_OUTCOMES and not self.outcome_on:
            errors.setdefault("outcome_on", []).append("Give the date of this outcome.")
        if self.outcome_on and self.onset_on and self.outcome_on < self.onset_on:
            errors.setdefault("outcome_on", []).append("The outcome date cannot be before the onset.")
        if self.outcome_on and self.outcome_on > timezone.localdate():
            errors.setdefault("outcome_on", []).append("The outcome date cannot be in the future.")
        if self.meddra_code and not (self.meddra_code.isdigit() and len(self.meddra_code) == 8):
            errors.setdefault("meddra_code", []).append("A MedDRA LLT code has 8 digits.")
        if errors:
            raise ValidationError(errors)

    @property
    def status(self) -> str:
        return EventStatus.RESOLVED if self.outcome in RESOLVED_OUTCOMES else EventStatus.OPEN

    def get_status_display(self) -> str:
        return EventStatus(self.status).label

    @property
    def seriousness_criteria(self) -> list[str]:
        """Labels of the criteria met, e.g. ["Requires or prolongs inpatient hospitalisation"]."""
        return [label for field, label, _ in SERIOUSNESS_CRITERIA if getattr(self, field)]

    @property
    def outcome_codes(self):
        return OUTCOME_CODES[self.outcome]

    @property
    def days_to_onset(self) -> int | None:
        injection = self.index_injection if self.index_injection_id else None
        return (self.onset_on - injection.injected_on).days if injection else None

"""Adverse events after an injection.

An adverse event is never deleted: it is corrected through safety.services.adverse_events with a reason, and every
version is kept by django-simple-history (who, when, before and after, why). `version` is bumped on every change,
so two clinicians editing the same event cannot silently overwrite each other (optimistic concurrency).
"""

import datetime as dt
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, ExpressionWrapper, F, Func, OuterRef, Q, Value
from django.utils import timezone

from registry.history import HistoricalRecords
from safety.choices import (
    AT_LEAST_POSSIBLE,
    OUTCOME_CODES,
    RESOLVED_OUTCOMES,
    SERIOUSNESS_CRITERIA,
    SERIOUSNESS_FIELDS,
    SUSAR_FATAL_DAYS,
    SUSAR_FOLLOW_UP_DAYS,
    SUSAR_OTHER_DAYS,
    ActionTaken,
    Causality,
    Dechallenge,
    EventCategory,
    EventSource,
    EventStatus,
    Expectedness,
    Outcome,
    Rechallenge,
    Relatedness,
    ReportKind,
    Severity,
    YesNoUnknown,
    stronger_causality,
)
from safety.models.reports import RegulatoryReport

_ANY_CRITERION = reduce(or_, (Q(**{field: True}) for field in SERIOUSNESS_FIELDS))
_NO_CRITERION = Q(**dict.fromkeys(SERIOUSNESS_FIELDS, False))


# ICH E2A's 7-day clock: the event is fatal or life-threatening (standards.md 6.5).
_FATAL_OR_LIFE_THREATENING = Q(serious_death=True) | Q(serious_life_threatening=True)
# Serious, unexpected and at least possibly related (to the product or to the procedure): with a study product,
# a SUSAR candidate. The study product part is _ON_STUDY_PRODUCT (it needs the event's injections).
_SERIOUS_UNEXPECTED_RELATED = Q(is_serious=True, expectedness=Expectedness.UNEXPECTED) & (
    Q(causality_product__in=AT_LEAST_POSSIBLE) | Q(causality_procedure__in=AT_LEAST_POSSIBLE)
)
# A study product is one given under a registered study: its injection has governance on file (registry.protocols
# GovernanceForm; required for GOVERNANCE_REQUIRED products, recorded for others given in a study).
STUDY_REGISTRATION_KEY = "study_registration"


def _on_study_product() -> Exists:
    through = AdverseEvent.injections.through
    return Exists(
        through.objects.filter(adverseevent_id=OuterRef("pk"), injection__governance__has_key=STUDY_REGISTRATION_KEY)
    )


class AddDays(Func):
    """date + whole days, as a date on both databases (PostgreSQL: date + integer; SQLite: date(d, '+n days'))."""

    output_field = models.DateField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" + ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        day, days = (compiler.compile(e) for e in self.get_source_expressions())
        return f"date({day[0]}, '+' || ({days[0]}) || ' days')", [*day[1], *days[1]]


def _clock_days() -> models.Case:
    return models.Case(
        models.When(_FATAL_OR_LIFE_THREATENING, then=Value(SUSAR_FATAL_DAYS)),
        default=Value(SUSAR_OTHER_DAYS),
        output_field=models.IntegerField(),
    )


class AdverseEventQuerySet(models.QuerySet):
    def with_susar(self) -> "AdverseEventQuerySet":
        """Annotate `susar_candidate` (the one SQL form of AdverseEvent.is_susar_candidate) and the clock's last
        day, `susar_due_on` (7 days from aware_on if fatal or life-threatening, else 15: ICH E2A)."""
        return self.annotate(
            susar_candidate=ExpressionWrapper(
                _SERIOUS_UNEXPECTED_RELATED & _on_study_product(), output_field=models.BooleanField()
            ),
            susar_due_on=AddDays(F("aware_on"), _clock_days()),
        )

    def susar_candidates(self) -> "AdverseEventQuerySet":
        return self.filter(_SERIOUS_UNEXPECTED_RELATED, _on_study_product())

    def susar_clocks_running(self) -> "AdverseEventQuerySet":
        """SUSAR candidates with no initial report yet, soonest due first: the attention page's list."""
        initial_report = RegulatoryReport.objects.filter(event_id=OuterRef("pk"), kind=ReportKind.INITIAL)
        return (
            self.susar_candidates()
            .filter(~Exists(initial_report))
            .annotate(susar_due_on=AddDays(F("aware_on"), _clock_days()))
            .order_by("susar_due_on", "id")
        )


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

    # Issue 15: assessed separately for the product (what was injected) and the procedure (needle, harvest).
    causality_product = models.CharField("causality to the product (WHO-UMC)", max_length=16, choices=Causality.choices)
    causality_procedure = models.CharField(
        "causality to the procedure (WHO-UMC)", max_length=16, choices=Causality.choices
    )
    # Events recorded before the split had one assessment of "the injection" (product and procedure together);
    # the migration copied it to both and set this, so nobody reads two assessments where one was made.
    assessed_jointly = models.BooleanField(
        "product and procedure assessed together (before 2026-12)", default=False, editable=False
    )
    # Derived (sync_derived): the stronger of the two, what analyses, filters and the lists call causality.
    causality = models.CharField(
        "causality, stronger of product and procedure (WHO-UMC)",
        max_length=16,
        choices=Causality.choices,
        editable=False,
    )
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

    # Staged plans only (CIOMS I boxes 20-21): was the next injection withheld, and did the event abate; was a
    # later injection given, and did the event come back.
    dechallenge = models.CharField(
        "next injection withheld or delayed", max_length=16, choices=Dechallenge.choices, blank=True
    )
    dechallenge_abated = models.CharField(
        "did the event abate after withholding", max_length=8, choices=YesNoUnknown.choices, blank=True
    )
    rechallenge = models.CharField("later injection given", max_length=8, choices=Rechallenge.choices, blank=True)
    rechallenge_recurred = models.CharField(
        "did the event recur after the later injection", max_length=8, choices=YesNoUnknown.choices, blank=True
    )
    # Day 0 of the expedited-reporting clocks (ICH E2A): when the clinic first knew of the event.
    aware_on = models.DateField("date the clinic first knew", default=timezone.localdate)

    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    history = HistoricalRecords(m2m_fields=[injections])
    objects = AdverseEventQuerySet.as_manager()

    class Meta:
        ordering = ["-is_serious", "-onset_on", "-id"]
        constraints = [
            _choice_check("source", EventSource.values, "ae_source_valid"),
            _choice_check("category", EventCategory.values, "ae_category_valid"),
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=5), name="ae_severity_1_5"),
            _choice_check("causality", Causality.values, "ae_causality_valid"),
            _choice_check("causality_product", Causality.values, "ae_causality_product_valid"),
            _choice_check("causality_procedure", Causality.values, "ae_causality_procedure_valid"),
            models.CheckConstraint(
                condition=Q(causality=F("causality_product")) | Q(causality=F("causality_procedure")),
                name="ae_causality_is_one_of_the_two",
            ),
            _choice_check("dechallenge", Dechallenge.values, "ae_dechallenge_valid", blank=True),
            _choice_check("dechallenge_abated", YesNoUnknown.values, "ae_dechallenge_abated_valid", blank=True),
            _choice_check("rechallenge", Rechallenge.values, "ae_rechallenge_valid", blank=True),
            _choice_check("rechallenge_recurred", YesNoUnknown.values, "ae_rechallenge_recurred_valid", blank=True),
            models.CheckConstraint(
                condition=Q(dechallenge_abated="") | Q(dechallenge=Dechallenge.YES), name="ae_abated_when_withheld"
            ),
            models.CheckConstraint(
                condition=Q(rechallenge_recurred="") | Q(rechallenge=Rechallenge.YES),
                name="ae_recurred_when_rechallenged",
            ),
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
        self.causality = stronger_causality(self.causality_product, self.causality_procedure)

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
        if self.dechallenge_abated and self.dechallenge != Dechallenge.YES:
            errors.setdefault("dechallenge_abated", []).append(
                "Only when the next injection was withheld or delayed: leave it empty otherwise."
            )
        if self.rechallenge_recurred and self.rechallenge != Rechallenge.YES:
            errors.setdefault("rechallenge_recurred", []).append(
                "Only when a later injection was given: leave it empty otherwise."
            )
        if self.aware_on and self.aware_on > timezone.localdate():
            errors.setdefault("aware_on", []).append("The date the clinic knew cannot be in the future.")
        if self.aware_on and self.onset_on and self.aware_on < self.onset_on:
            errors.setdefault("aware_on", []).append("The clinic cannot have known before the onset.")
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

    # --- expedited reporting (ICH E2A, standards.md 6.5) ---------------------------------------------------------

    @property
    def on_study_product(self) -> bool:
        """Any of the event's injections was given under a registered study (governance on file)."""
        return any(STUDY_REGISTRATION_KEY in (i.governance or {}) for i in self.injections.all())

    @property
    def is_susar_candidate(self) -> bool:
        """Serious, unexpected, at least possibly related to the product or the procedure, on a study product.
        Same rule as AdverseEventQuerySet.with_susar()'s `susar_candidate` (a test holds them together)."""
        related = self.causality_product in AT_LEAST_POSSIBLE or self.causality_procedure in AT_LEAST_POSSIBLE
        return self.is_serious and self.expectedness == Expectedness.UNEXPECTED and related and self.on_study_product

    @property
    def is_fatal_or_life_threatening(self) -> bool:
        return self.serious_death or self.serious_life_threatening

    @property
    def susar_clock_days(self) -> int:
        return SUSAR_FATAL_DAYS if self.is_fatal_or_life_threatening else SUSAR_OTHER_DAYS

    @property
    def susar_report_due_on(self) -> dt.date:
        """The last day for the initial report: day 7 (fatal or life-threatening) or day 15 from aware_on."""
        return self.aware_on + dt.timedelta(days=self.susar_clock_days)

    @property
    def susar_follow_up_due_on(self) -> dt.date | None:
        """After a 7-day report, the more complete follow-up is due 8 days later (day 15)."""
        if not self.is_fatal_or_life_threatening:
            return None
        return self.aware_on + dt.timedelta(days=SUSAR_FOLLOW_UP_DAYS)

    def susar_days_left(self, today: dt.date | None = None) -> int:
        """Days until the initial report is due: 0 on the last day, negative once overdue."""
        return (self.susar_report_due_on - (today or timezone.localdate())).days

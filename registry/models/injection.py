from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import dateformat

from registry import plausibility, protocols
from registry.choices import Guidance, InjectionStatus, Knee, Product, Rehabilitation
from registry.history import HistoricalRecords
from registry.models.component import short_product
from registry.models.selection import SelectionFactors, selection_constraints


def knee_product_day(knee_display: str, product_display: str, day) -> str:
    """ "Left knee, BMAC, injected 3 Mar 2026": how staff lists name a treatment on every row, so a patient's two
    knees are never indistinguishable."""
    product = product_display.split(" (")[0]  # "BMAC", not the full explanation
    return f"{knee_display} knee, {product}, injected {dateformat.format(day, 'j M Y')}"


class TreatmentPlan(models.Model):
    """A course of injections into one knee: one injection, or a staged plan of several.

    Follow-ups are scheduled per plan, measured from its first injection.
    """

    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="plans")
    knee = models.CharField(max_length=5, choices=Knee.choices)
    product = models.CharField(max_length=16, choices=Product.choices)
    planned_injections = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # A course given because an earlier one in this knee did not help (the consultation's fallback plan, recorded
    # at its review): the dashboard follows outcomes after a repeat injection through this link.
    repeat_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="repeats",
        help_text="The earlier course in this knee that did not help, when this course is its fallback.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(knee__in=Knee.values), name="plan_knee_valid"),
            models.CheckConstraint(condition=models.Q(product__in=Product.values), name="plan_product_valid"),
        ]

    def __str__(self) -> str:
        kind = "single injection" if self.planned_injections == 1 else f"{self.planned_injections}-stage plan"
        return f"{self.get_product_display()} {kind}, {self.get_knee_display().lower()} knee"

    @property
    def is_staged(self) -> bool:
        return self.planned_injections > 1

    def repeat_problem(self, earlier: "TreatmentPlan | None") -> str | None:
        """Why ``earlier`` cannot be the course this one repeats (None when it can): the same patient's same knee,
        and not this course itself."""
        if earlier is None:
            return None
        if earlier.pk == self.pk:
            return "A course cannot repeat itself."
        if earlier.patient_id != self.patient_id or earlier.knee != self.knee:
            return "The earlier course must be in the same knee of the same patient."
        return None

    @property
    def first_injection(self):
        return self.injections.order_by("number_in_plan").first()


class Injection(SelectionFactors):
    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="injections")
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="injections")
    number_in_plan = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    knee = models.CharField(max_length=5, choices=Knee.choices)
    status = models.CharField(max_length=8, choices=InjectionStatus.choices, default=InjectionStatus.GIVEN)
    injected_on = models.DateField(help_text="Date given, or planned date while the injection is planned.")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="injections_given",
        help_text="Treating clinician.",
    )
    product = models.CharField(max_length=16, choices=Product.choices)
    guidance = models.CharField(max_length=12, choices=Guidance.choices)
    volume_ml = models.DecimalField(
        "volume injected (mL)",
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("100"))],
    )
    rehabilitation = models.CharField(
        "rehabilitation plan (first 6 months)", max_length=12, choices=Rehabilitation.choices
    )
    rehabilitation_notes = models.TextField(blank=True)

    # Patient-selection snapshot on the day: what the knee and patient were like when treated.
    # kl_grade, bmi, alignment and the other selection factors: SelectionFactors (registry.selection).
    age_at_injection = models.PositiveSmallIntegerField(editable=False)
    activity_level = models.PositiveSmallIntegerField(
        "activity level (Tegner 0-10)", null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    previous_treatments = models.JSONField(default=list, blank=True)
    pathology = models.JSONField("co-existing pathology", default=list, blank=True)
    pathology_notes = models.TextField(blank=True)

    protocol = models.JSONField(default=dict, blank=True)
    governance = models.JSONField(default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-injected_on", "-id"]
        indexes = [models.Index(fields=["patient", "injected_on"])]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number_in_plan"], name="one_injection_per_plan_stage"),
            models.CheckConstraint(condition=models.Q(knee__in=Knee.values), name="injection_knee_valid"),
            models.CheckConstraint(condition=models.Q(product__in=Product.values), name="injection_product_valid"),
            models.CheckConstraint(condition=models.Q(guidance__in=Guidance.values), name="injection_guidance_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=InjectionStatus.values), name="injection_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(kl_grade__lte=4), name="injection_kl_grade_0_4"),
            *selection_constraints("injection"),
        ]

    def __str__(self) -> str:
        return f"{self.get_product_display()} — {self.get_knee_display().lower()} knee, {self.injected_on}"

    @property
    def staff_label(self) -> str:
        return knee_product_day(self.get_knee_display(), self.products_label, self.injected_on)

    # --- Components (registry.models.component): lists prefetch "components", so these cost no query there. ---

    @property
    def ordered_components(self) -> list:
        return sorted(self.components.all(), key=lambda c: c.position)

    @property
    def products_label(self) -> str:
        """ "BMAC + PRP" for a combined injection, "BMAC" for a single product."""
        products = [c.product for c in self.ordered_components] or [self.product]
        return " + ".join(dict.fromkeys(short_product(p) for p in products))

    @property
    def is_combined(self) -> bool:
        return len(self.ordered_components) > 1

    @property
    def total_volume_ml(self) -> Decimal:
        """All components together: derived, never typed."""
        components = self.ordered_components
        return sum((c.volume_ml for c in components), Decimal(0)) if components else self.volume_ml

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The protocol as stored, so a correction is judged only on the values it changes (registry.plausibility).
        stored = instance.__dict__.get("protocol")
        instance.stored_protocol = dict(stored) if isinstance(stored, dict) else None
        instance.stored_volume_ml = instance.__dict__.get("volume_ml")
        return instance

    stored_protocol: dict | None = None  # a new injection has none
    stored_volume_ml: Decimal | None = None

    def clean(self) -> None:
        errors: dict[str, list[str]] = dict(self.selection_check(age=self.age_at_injection)[0])
        checked = protocols.validate_protocol(self.product, self.protocol, stored=self.stored_protocol)
        for field, messages in checked[1].items():
            errors.setdefault("protocol", []).extend(f"{field}: {m}" for m in messages)
        for field, messages in protocols.dated_problems(self.product, self.protocol, self.injected_on).items():
            errors.setdefault("protocol", []).extend(f"{field}: {m}" for m in messages)
        governance = protocols.validate_governance(
            self.product,
            self.governance,
            protocol=self.protocol if isinstance(self.protocol, dict) else None,
            new_record=self._state.adding,
        )
        for field, messages in governance[1].items():
            errors.setdefault("governance", []).extend(
                messages if field == "__all__" else [f"{field}: {m}" for m in messages]
            )
        for field, messages in protocols.validate_selection(
            alignment=self.alignment,
            alignment_degrees=self.alignment_degrees,
            previous_treatments=self.previous_treatments,
            pathology=self.pathology,
        ).items():
            errors.setdefault(field, []).extend(messages)
        if isinstance(self.protocol, dict):
            # The volume injected against the protocol's volumes (the protocol's own pairs are checked above).
            stored = (
                None if self.stored_protocol is None else {**self.stored_protocol, "volume_ml": self.stored_volume_ml}
            )
            for field, problem in plausibility.parts_exceeding(
                self.product, {**self.protocol, "volume_ml": self.volume_ml}, stored=stored, injection_level=True
            ).items():
                errors.setdefault(field, []).append(problem)
        if errors:
            raise ValidationError(errors)

    @property
    def is_staged(self) -> bool:
        return self.plan.planned_injections > 1

    def protocol_completeness(self) -> protocols.Completeness:
        return protocols.completeness(self)

"""The selection factors as model fields: an abstract mixin, so the injection and (issue 16) the consultation that
carries the same factors hold them alike. Vocabularies, limits and rules: registry.selection."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import dateformat

from registry import selection
from registry.choices import Alignment
from registry.selection import (
    AlignmentMethod,
    Antithrombotic,
    BmiStatus,
    Compartment,
    Diabetes,
    Effusion,
    ImmunosuppressionReason,
    Malignancy,
    RadiographView,
    Smoking,
    YesNoUnknown,
)

_LIMITS = selection.LIMITS


def _between(field: str) -> list:
    low, high = _LIMITS[field].hard
    return [MinValueValidator(Decimal(low)), MaxValueValidator(Decimal(high))]


class SelectionFactors(models.Model):
    """What the knee and patient were like when the treatment was chosen (blank: not recorded)."""

    # Set by the concrete model: the date the radiograph must not follow (the injection's, the consultation's),
    # and what it is the day of, as the messages name it.
    selection_day_field = "injected_on"
    selection_day_of = "injection"

    kl_grade = models.PositiveSmallIntegerField(
        "Kellgren-Lawrence grade", validators=[MaxValueValidator(4)], help_text="0-4, from the index knee X-ray."
    )
    kl_radiograph_on = models.DateField(
        "date of the radiograph graded",
        null=True,
        blank=True,
        help_text="Not after the injection; over 12 months before, you are asked to confirm it.",
    )
    kl_radiograph_view = models.CharField(
        "radiograph view graded", max_length=12, choices=RadiographView.choices, blank=True
    )
    kl_compartments = models.JSONField(
        "compartments with OA", default=list, blank=True, help_text="Every compartment the grade describes."
    )
    bmi_status = models.CharField(
        "BMI",
        max_length=12,
        choices=BmiStatus.choices,
        default=BmiStatus.MEASURED,
        help_text="Give the BMI, or say it was not measured.",
    )
    bmi = models.DecimalField(
        "BMI (kg/m²)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=_between("bmi"),
        help_text="Required when measured. " + _LIMITS["bmi"].describe(),
    )
    bmi_not_measured_reason = models.CharField(
        "why BMI was not measured", max_length=200, blank=True, help_text="Optional, e.g. “no scales in clinic”."
    )
    alignment = models.CharField(max_length=8, choices=Alignment.choices, blank=True)
    alignment_degrees = models.DecimalField(
        "deformity (degrees)",
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("30"))],
    )
    alignment_method = models.CharField(
        "alignment measured by", max_length=10, choices=AlignmentMethod.choices, blank=True
    )
    symptom_duration_months = models.PositiveSmallIntegerField(
        "symptom duration (months)",
        null=True,
        blank=True,
        validators=_between("symptom_duration_months"),
        help_text="Months since the knee symptoms began; blank if not known.",
    )
    effusion = models.CharField(max_length=8, choices=Effusion.choices, blank=True)
    effusion_aspirated_ml = models.DecimalField(
        "effusion aspirated (mL)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=_between("effusion_aspirated_ml"),
        help_text="Only if aspirated before injecting. " + _LIMITS["effusion_aspirated_ml"].describe(),
    )
    diabetes = models.CharField(max_length=8, choices=Diabetes.choices, blank=True)
    antithrombotic = models.CharField(
        "anticoagulant or antiplatelet use", max_length=14, choices=Antithrombotic.choices, blank=True
    )
    immunosuppression = models.CharField(max_length=8, choices=YesNoUnknown.choices, blank=True)
    immunosuppression_reason = models.CharField(
        "immunosuppressed by", max_length=16, choices=ImmunosuppressionReason.choices, blank=True
    )
    malignancy = models.CharField("malignancy history", max_length=8, choices=Malignancy.choices, blank=True)
    smoking = models.CharField(max_length=8, choices=Smoking.choices, blank=True)
    widespread_pain = models.CharField(
        "widespread pain",
        max_length=8,
        choices=YesNoUnknown.choices,
        blank=True,
        help_text="Pain in many body sites, e.g. chronic widespread pain or fibromyalgia.",
    )

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # As stored, so a correction is judged only by the rules it touches (registry.selection.validate).
        instance.stored_selection = {name: instance.__dict__.get(name) for name in selection.FIELDS}
        return instance

    stored_selection: dict | None = None  # a new record has none

    def selection_values(self) -> dict:
        return {name: getattr(self, name) for name in selection.FIELDS}

    def selection_check(self, *, age: int | None = None):
        """(errors by field, unusual values to confirm): registry.selection's rules on this record."""
        return selection.validate(
            self.selection_values(),
            day=getattr(self, self.selection_day_field),
            age=age,
            stored=self.stored_selection,
            day_of=self.selection_day_of,
        )

    def selection_summary(self) -> list[tuple[str, str]]:
        """(label, value as read) for each factor, "Not recorded" where blank: the record page's rows."""

        def shown(name: str) -> str:
            value = getattr(self, name)
            if value in (None, "", []):
                return ""
            if name == "kl_compartments":
                labels = dict(Compartment.choices)
                return ", ".join(labels.get(v, v) for v in value)
            if name == "kl_radiograph_on":
                return dateformat.format(value, "j M Y")
            return getattr(self, f"get_{name}_display")() if self._meta.get_field(name).choices else str(value)

        bmi = f"{self.bmi} kg/m²" if self.bmi is not None else self.get_bmi_status_display()
        if self.bmi_status == BmiStatus.NOT_MEASURED and self.bmi_not_measured_reason:
            bmi += f" ({self.bmi_not_measured_reason})"
        radiograph = ", ".join(v for v in (shown("kl_radiograph_view"), shown("kl_radiograph_on")) if v)
        alignment = ", ".join(
            v
            for v in (
                shown("alignment"),
                f"{self.alignment_degrees}°" if self.alignment_degrees is not None else "",
                shown("alignment_method"),
            )
            if v
        )
        effusion = shown("effusion")
        if self.effusion_aspirated_ml is not None:
            effusion += f", {self.effusion_aspirated_ml} mL aspirated"
        immunosuppression = ", ".join(v for v in (shown("immunosuppression"), shown("immunosuppression_reason")) if v)
        months = self.symptom_duration_months
        rows = [
            ("Kellgren-Lawrence grade", str(self.kl_grade)),
            ("Radiograph graded", radiograph),
            ("Compartments with OA", shown("kl_compartments")),
            ("BMI", bmi),
            ("Alignment", alignment),
            ("Symptom duration", "" if months is None else f"{months} month{'s' if months != 1 else ''}"),
            ("Effusion", effusion),
            ("Diabetes", shown("diabetes")),
            ("Anticoagulant or antiplatelet use", shown("antithrombotic")),
            ("Immunosuppression", immunosuppression),
            ("Malignancy history", shown("malignancy")),
            ("Smoking", shown("smoking")),
            ("Widespread pain", shown("widespread_pain")),
        ]
        return [(label, value or "Not recorded") for label, value in rows]


def selection_constraints(prefix: str) -> list[models.CheckConstraint]:
    """Each choice field held to its choices ("" = not recorded; BMI status is always stated)."""
    return [
        models.CheckConstraint(
            condition=models.Q(**{f"{name}__in": [*vocabulary.values, *([] if name == "bmi_status" else [""])]}),
            name=f"{prefix}_{name}_valid",
        )
        for name, vocabulary in selection.CHOICES.items()
    ]

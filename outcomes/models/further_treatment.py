"""Treatment a knee had after its registry treatment: other injections and operations, reported by the patient at
a follow-up or recorded by the clinic (e.g. from a surgeon's letter). Time to knee replacement is read from here."""

from django.conf import settings
from django.db import models
from django.utils import dateformat

from registry.choices import Knee
from registry.history import HistoricalRecords


class FurtherTreatmentKind(models.TextChoices):
    STEROID_INJECTION = "steroid_injection", "Steroid injection"
    HA_INJECTION = "ha_injection", "Hyaluronic acid injection"
    PRP_INJECTION = "prp_injection", "PRP injection"
    OTHER_INJECTION = "other_injection", "Other injection"
    ARTHROSCOPY = "arthroscopy", "Arthroscopy"
    OSTEOTOMY = "osteotomy", "Osteotomy"
    PARTIAL_KNEE_REPLACEMENT = "partial_knee_replacement", "Partial knee replacement"
    TOTAL_KNEE_REPLACEMENT = "total_knee_replacement", "Total knee replacement"
    OTHER_SURGERY = "other_surgery", "Other knee operation"


# The end point of the time-to-arthroplasty analysis (outcomes.analysis.survival): a partial or total replacement.
ARTHROPLASTY = (FurtherTreatmentKind.PARTIAL_KNEE_REPLACEMENT, FurtherTreatmentKind.TOTAL_KNEE_REPLACEMENT)


class FurtherTreatment(models.Model):
    """One event for one knee. The patient and the clinic may both tell us of the same operation: the same knee,
    kind and month is one event with both sources marked (outcomes.further_treatments reconciles them)."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="further_treatments")
    # The treatment plan whose follow-up it is counted in: the one the patient was answering about, or the knee's
    # plan the clinician chose.
    plan = models.ForeignKey("registry.TreatmentPlan", on_delete=models.PROTECT, related_name="further_treatments")
    knee = models.CharField(max_length=5, choices=Knee.choices)
    kind = models.CharField(max_length=32, choices=FurtherTreatmentKind.choices)
    # Patients recall the month; the clinic may know the day. `month` is always the first of the month.
    month = models.DateField()
    day = models.DateField(null=True, blank=True)
    reported_by_patient = models.BooleanField(default=False)
    recorded_by_clinic = models.BooleanField(default=False)
    # The questionnaire that first reported it, and the clinician who recorded it.
    submission = models.ForeignKey(
        "outcomes.Submission", null=True, blank=True, on_delete=models.PROTECT, related_name="further_treatments"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When the clinic recorded it: a clinician's record is a contact (the analysis censors at the last one).
    recorded_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["month", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "knee", "kind", "month"], name="one_further_treatment_per_knee_kind_month"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=FurtherTreatmentKind.values), name="further_treatment_kind_valid"
            ),
            models.CheckConstraint(condition=models.Q(knee__in=Knee.values), name="further_treatment_knee_valid"),
            models.CheckConstraint(
                condition=models.Q(reported_by_patient=True) | models.Q(recorded_by_clinic=True),
                name="further_treatment_has_a_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.get_knee_display().lower()} knee, {self.when}"

    @property
    def when(self) -> str:
        return dateformat.format(self.day, "j M Y") if self.day else dateformat.format(self.month, "M Y")

    @property
    def sources(self) -> str:
        names = [n for n, on in (("patient", self.reported_by_patient), ("clinic", self.recorded_by_clinic)) if on]
        return " and ".join(names).capitalize()

    @property
    def is_arthroplasty(self) -> bool:
        return self.kind in ARTHROPLASTY

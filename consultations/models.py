"""The consultation record (issue 16): why this knee, what was decided, and the fallback plan if it does not help.

It carries the selection factors an injection carries (registry.models.selection.SelectionFactors, whose rules are
registry.selection's), so "Record the injection" carries them over rather than having them typed twice, and
consultations that ended without an injection are counted too.
"""

import datetime as dt
import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import dateformat, timezone

from consultations.choices import (
    DEFAULT_REVIEW_AFTER_MONTHS,
    INJECTION_OFFERS,
    MULTIPLE_CHOICES,
    Decision,
    FallbackOffer,
    NotImprovedRule,
    PathTaken,
    ReasonAgainst,
    ReviewFinding,
)
from registry.choices import Alignment, Knee, Product
from registry.history import HistoricalRecords
from registry.models.selection import SelectionFactors, selection_constraints
from registry.protocols import validate_selection

REASONING_MAX = 1000
REVIEW_MONTHS = (1, 24)
# Plan fields that mean something only when proceeding: refused (when changed from the default) otherwise.
FALLBACK_FIELDS = ("review_after_months", "not_improved_rule", "fallback_offer")


def codes_problem(value, vocabulary: type[models.TextChoices], exclusive: str | None) -> str | None:
    """Why ``value`` is not a list of distinct codes of ``vocabulary`` (None when it is)."""
    if not isinstance(value, list):
        return "Must be a list of codes."
    unknown = [v for v in value if v not in vocabulary.values]
    if unknown:
        return f"Unknown code(s): {', '.join(map(str, unknown))}. Choose from: {', '.join(vocabulary.values)}."
    if len(set(value)) != len(value):
        return "Each answer once."
    if exclusive and exclusive in value and len(value) > 1:
        return f"“{vocabulary(exclusive).label}” cannot be chosen with other answers."
    return None


class Consultation(SelectionFactors):
    selection_day_field = "consulted_on"
    selection_day_of = "consultation"

    patient = models.ForeignKey("registry.Patient", on_delete=models.PROTECT, related_name="consultations")
    knee = models.CharField(max_length=5, choices=Knee.choices)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="consultations",
        help_text="Who saw the patient.",
    )
    consulted_on = models.DateField("date of the consultation", help_text="Not in the future.")
    age_at_consultation = models.PositiveSmallIntegerField(editable=False)

    # The rest of the factors an injection records beside SelectionFactors (registry.models.injection).
    activity_level = models.PositiveSmallIntegerField(
        "activity level (Tegner 0-10)", null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    pathology = models.JSONField("co-existing pathology", default=list, blank=True)
    pathology_notes = models.TextField(blank=True)
    previous_treatments = models.JSONField("previous treatments for this knee", default=list, blank=True)

    # The clinician's reasoning: structured answers and a short free text.
    indications = models.JSONField("indications found", default=list, blank=True)
    reasons_against = models.JSONField("reasons against an injection", default=list, blank=True)
    alternatives_discussed = models.JSONField(default=list, blank=True)
    reasoning = models.TextField(
        blank=True, validators=[MaxLengthValidator(REASONING_MAX)], help_text=f"At most {REASONING_MAX} characters."
    )

    decision = models.CharField(max_length=16, choices=Decision.choices)
    proposed_product = models.CharField(
        max_length=16, choices=Product.choices, blank=True, help_text="Required when proceeding; only then."
    )
    referred_to = models.CharField(
        max_length=200, blank=True, help_text="When advising against: where to, e.g. physiotherapy, surgical opinion."
    )

    # The fallback plan, when proceeding.
    review_after_months = models.PositiveSmallIntegerField(
        "review after (months)",
        default=DEFAULT_REVIEW_AFTER_MONTHS,
        validators=[MinValueValidator(REVIEW_MONTHS[0]), MaxValueValidator(REVIEW_MONTHS[1])],
        help_text=f"{REVIEW_MONTHS[0]}-{REVIEW_MONTHS[1]} months after the injection.",
    )
    not_improved_rule = models.CharField(
        "not improved means",
        max_length=24,
        choices=NotImprovedRule.choices,
        default=NotImprovedRule.MCID_OR_RESPONDER,
    )
    fallback_offer = models.JSONField("offered if not improved", default=list, blank=True)

    injection = models.OneToOneField(
        "registry.Injection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consultation",
        editable=False,
        help_text="The injection recorded from this consultation.",
    )

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-consulted_on", "-id"]
        indexes = [models.Index(fields=["patient", "consulted_on"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(knee__in=Knee.values), name="consultation_knee_valid"),
            models.CheckConstraint(
                condition=models.Q(decision__in=Decision.values), name="consultation_decision_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(proposed_product__in=[*Product.values, ""]), name="consultation_product_valid"
            ),
            # A product is proposed exactly when proceeding.
            models.CheckConstraint(
                condition=models.Q(decision=Decision.PROCEED, proposed_product__gt="")
                | (~models.Q(decision=Decision.PROCEED) & models.Q(proposed_product="")),
                name="consultation_product_iff_proceed",
            ),
            models.CheckConstraint(
                condition=models.Q(not_improved_rule__in=NotImprovedRule.values),
                name="consultation_not_improved_rule_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    review_after_months__gte=REVIEW_MONTHS[0], review_after_months__lte=REVIEW_MONTHS[1]
                ),
                name="consultation_review_after_months_1_24",
            ),
            models.CheckConstraint(condition=models.Q(kl_grade__lte=4), name="consultation_kl_grade_0_4"),
            *selection_constraints("consultation"),
        ]

    def __str__(self) -> str:
        return (
            f"Consultation {dateformat.format(self.consulted_on, 'j M Y')}, {self.get_knee_display().lower()} knee: "
            f"{self.decision_label}"
        )

    @property
    def decision_label(self) -> str:
        if self.decision == Decision.PROCEED and self.proposed_product:
            return f"proceed with {self.get_proposed_product_display().split(' (')[0]}"
        return self.get_decision_display().lower()

    @property
    def is_proceeding(self) -> bool:
        return self.decision == Decision.PROCEED

    def labels(self, field: str) -> list[str]:
        """The multiple-choice answer ``field`` as read (labels, in the vocabulary's order)."""
        vocabulary = MULTIPLE_CHOICES[field][0]
        chosen = set(getattr(self, field) or [])
        return [label for code, label in vocabulary.choices if code in chosen]

    def clean(self) -> None:
        """Every rule about this one record, reported per field together."""
        errors: dict[str, list[str]] = {}

        def refuse(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        for field, messages in self.selection_check(age=self.age_at_consultation)[0].items():
            errors.setdefault(field, []).extend(messages)
        # Alignment degrees and co-existing pathology as on an injection; the previous treatments are this
        # record's own vocabulary (checked below with the other lists).
        for field, messages in validate_selection(
            alignment=self.alignment,
            alignment_degrees=self.alignment_degrees,
            previous_treatments=[],
            pathology=self.pathology,
        ).items():
            errors.setdefault(field, []).extend(messages)
        for field, (vocabulary, exclusive) in MULTIPLE_CHOICES.items():
            problem = codes_problem(getattr(self, field), vocabulary, exclusive)
            if problem:
                refuse(field, problem)

        if isinstance(self.consulted_on, dt.date) and self.patient_id:
            today = timezone.localtime(timezone.now(), self.patient.clinic.tzinfo).date()
            if self.consulted_on > today:
                refuse("consulted_on", f"In the future: the consultation is recorded once it has happened (today is "
                       f"{dateformat.format(today, 'j M Y')}).")  # fmt: skip
            if self.consulted_on.year < self.patient.year_of_birth:
                refuse("consulted_on", f"Before the patient was born ({self.patient.year_of_birth}).")

        proceeding = self.decision == Decision.PROCEED
        if proceeding and not self.proposed_product:
            refuse("proposed_product", "Say which product, or choose another decision.")
        if not proceeding and self.proposed_product:
            refuse("proposed_product", "Only when the decision is to proceed with an injection.")
        if proceeding and self.referred_to:
            refuse("referred_to", "Only when advising against or undecided; when proceeding, put a referral in the "
                   "fallback plan.")  # fmt: skip
        reasons = self.reasons_against if isinstance(self.reasons_against, list) else []
        if self.decision == Decision.ADVISE_AGAINST and not reasons:
            refuse("reasons_against", "Advising against an injection needs at least one reason against.")
        if ReasonAgainst.KL_4 in reasons and self.kl_grade is not None and self.kl_grade != 4:
            refuse("reasons_against", f"“{ReasonAgainst.KL_4.label}” with a KL grade of {self.kl_grade}: correct the "
                   "grade or the reason.")  # fmt: skip
        if ReasonAgainst.MALALIGNMENT in reasons and not (
            self.alignment in (Alignment.VARUS, Alignment.VALGUS) and self.alignment_degrees
        ):
            refuse("reasons_against", "“Marked malalignment” needs the varus or valgus alignment and its degrees.")
        if ReasonAgainst.OTHER in reasons and not (self.reasoning or "").strip():
            refuse("reasoning", "Say what the other reason against is.")
        indications = self.indications if isinstance(self.indications, list) else []
        if "early_oa" in indications and self.kl_grade is not None and not 1 <= self.kl_grade <= 3:
            refuse("indications", f"“Early to moderate OA (KL grade 1-3)” with a KL grade of {self.kl_grade}.")

        if proceeding:
            if not self.fallback_offer:
                refuse(
                    "fallback_offer", "Say what will be offered if the knee has not improved (or “Nothing further”)."
                )
        else:
            defaults = {field: self._meta.get_field(field).get_default() for field in FALLBACK_FIELDS}
            for field in FALLBACK_FIELDS:
                if getattr(self, field) != defaults[field]:
                    refuse(
                        field, "The fallback plan is only for a decision to proceed: clear it or change the decision."
                    )
        if errors:
            raise ValidationError(errors)


class FallbackReview(models.Model):
    """The review of a course at its review point (issue 16): what the knee's outcome was found to be, what the
    clinician offered and what the patient took. One per course; corrections keep their history."""

    plan = models.OneToOneField(
        "registry.TreatmentPlan", on_delete=models.PROTECT, related_name="fallback_review", verbose_name="course"
    )
    reviewed_on = models.DateField("date of the review", help_text="Not in the future.")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fallback_reviews", help_text="Who reviewed."
    )
    finding = models.CharField(
        max_length=16,
        choices=ReviewFinding.choices,
        editable=False,
        help_text="What the review list found when the review was recorded.",
    )
    offered = models.JSONField("offered", default=list, help_text="One or more; “Nothing further” alone.")
    offered_product = models.CharField(
        max_length=16,
        choices=Product.choices,
        blank=True,
        help_text="The product of a repeat injection or of another product; only then.",
    )
    path_taken = models.CharField("what the patient took", max_length=24, choices=PathTaken.choices)
    notes = models.TextField(
        blank=True, validators=[MaxLengthValidator(REASONING_MAX)], help_text=f"At most {REASONING_MAX} characters."
    )

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-reviewed_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(finding__in=ReviewFinding.values), name="review_finding_valid"),
            models.CheckConstraint(condition=models.Q(path_taken__in=PathTaken.values), name="review_path_valid"),
            models.CheckConstraint(
                condition=models.Q(offered_product__in=[*Product.values, ""]), name="review_product_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Review {dateformat.format(self.reviewed_on, 'j M Y')}: {self.get_path_taken_display().lower()}"

    def offered_labels(self) -> list[str]:
        chosen = set(self.offered or [])
        return [label for code, label in FallbackOffer.choices if code in chosen]

    def clean(self) -> None:
        """Every rule about this one record, reported per field together."""
        errors: dict[str, list[str]] = {}

        def refuse(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        problem = codes_problem(self.offered, FallbackOffer, FallbackOffer.NOTHING)
        if problem:
            refuse("offered", problem)
        elif not self.offered:
            refuse("offered", "Say what was offered (or “Nothing further”).")
        offered = set(self.offered) if not problem else set()
        if offered & set(INJECTION_OFFERS) and not self.offered_product:
            refuse("offered_product", "Say which product the injection offered is.")
        if self.offered_product and not offered & set(INJECTION_OFFERS):
            refuse("offered_product", "Only when a repeat injection or another product was offered.")
        if (
            FallbackOffer.REPEAT_INJECTION in offered
            and FallbackOffer.ANOTHER_PRODUCT not in offered
            and self.offered_product
            and self.plan_id
            and self.offered_product != self.plan.product
        ):
            refuse("offered_product", "A repeat injection is the same product as the course reviewed; a different "
                   "product is “Another product”.")  # fmt: skip
        if offered and self.path_taken not in (PathTaken.DECLINED, PathTaken.UNDECIDED, *offered):
            refuse("path_taken", "The patient can take only what was offered, decline it, or not have decided yet.")
        if self.path_taken == PathTaken.DECLINED and offered == {FallbackOffer.NOTHING}:
            refuse("path_taken", "Nothing further was offered, so there was nothing to decline.")
        if isinstance(self.reviewed_on, dt.date) and self.plan_id:
            clinic = self.plan.patient.clinic
            today = timezone.localtime(timezone.now(), clinic.tzinfo).date()
            if self.reviewed_on > today:
                refuse("reviewed_on", f"In the future: the review is recorded once it has happened (today is "
                       f"{dateformat.format(today, 'j M Y')}).")  # fmt: skip
            first = self.plan.injections.order_by("number_in_plan").values_list("injected_on", flat=True).first()
            if first and self.reviewed_on < first:
                refuse("reviewed_on", f"Before the course's first injection ({dateformat.format(first, 'j M Y')}).")
        if errors:
            raise ValidationError(errors)


def hash_patient_copy_token(token: str) -> str:
    # Salted per purpose like the questionnaire's (outcomes.models.questionnaire.hash_token), with its own label,
    # so a questionnaire token can never open a patient's copy or the other way round.
    return hashlib.sha256(f"patient-copy-link:{settings.SECRET_KEY}:{token}".encode()).hexdigest()


class PatientCopyLink(models.Model):
    """A no-login link to the patient's copy of one consultation (consultations.patient_copy). Only the hash of
    its token is stored: the token is shown once to the clinician who issued it. A newer link for the same
    consultation revokes the older one, and staff may revoke a link at any time."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="patient_copy_links")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_opened_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    # Issue and revoke leave their rows here with the reason; the opening times are not history (update()).
    history = HistoricalRecords(excluded_fields=["first_opened_at", "last_opened_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one live (not revoked) link per consultation: what "issuing anew revokes the old" keeps.
            models.UniqueConstraint(
                fields=["consultation"], condition=models.Q(revoked_at__isnull=True), name="one_live_patient_copy_link"
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(revoked_by__isnull=False),
                name="patient_copy_link_revoked_by_someone",
            ),
        ]

    def __str__(self) -> str:  # never the token
        return f"Patient copy link #{self.pk} for consultation {self.consultation_id}"

    def is_live(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and (now or timezone.now()) < self.expires_at


class DecisionAidText(models.Model):
    """What a clinic writes itself on the patient's copy: the published evidence is not the registry's to
    summarise, and the course without an injection is the clinic's to describe. One per clinic; the defaults
    (consultations.patient_copy) apply until it is edited."""

    clinic = models.OneToOneField("registry.Clinic", on_delete=models.CASCADE, related_name="decision_aid_text")
    without_injection = models.TextField(
        "the course without an injection",
        blank=True,
        validators=[MaxLengthValidator(2000)],
        help_text="Plain words a patient can read. Leave empty to use the registry's default text.",
    )
    references = models.TextField(
        "published evidence (references)",
        blank=True,
        validators=[MaxLengthValidator(4000)],
        help_text="One reference per line, as the clinic wants patients to see them.",
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self) -> str:
        return f"Decision aid text of {self.clinic}"


__all__ = [
    "Consultation",
    "DecisionAidText",
    "FallbackReview",
    "PatientCopyLink",
    "codes_problem",
    "hash_patient_copy_token",
]

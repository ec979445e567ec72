import hashlib

from django.conf import settings
from django.db import models

from registry.history import HistoricalRecords


def hash_token(token: str) -> str:
    # Salted per purpose (the secret key and a fixed label) so a leaked hash table cannot be replayed elsewhere.
    return hashlib.sha256(f"questionnaire-link:{settings.SECRET_KEY}:{token}".encode()).hexdigest()


class LinkChannel(models.TextChoices):
    EMAIL = "email", "Emailed to the patient"
    SMS = "sms", "Texted to the patient"
    CLINIC = "clinic", "Clinic tablet"


class QuestionnaireLink(models.Model):
    """A bearer link to one follow-up's questionnaire. Only the hash of its token is stored; the token itself
    exists only in the email (or on the clinic tablet's screen). Every email gets a fresh link, and all links
    die with their follow-up's window or its submission."""

    follow_up = models.ForeignKey("outcomes.FollowUp", on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8, choices=LinkChannel.choices, default=LinkChannel.EMAIL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    first_opened_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    failed_checks = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(channel__in=LinkChannel.values), name="link_channel_valid"),
        ]

    def __str__(self) -> str:  # never the token
        return f"Link #{self.pk} for {self.follow_up_id}"


class QuestionnaireDraft(models.Model):
    """Answers saved while the patient goes, so a closed tab or a dead battery loses nothing."""

    follow_up = models.OneToOneField("outcomes.FollowUp", on_delete=models.CASCADE, related_name="draft")
    answers = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Draft for follow-up {self.follow_up_id}"


class SubmissionSource(models.TextChoices):
    PATIENT_LINK = "patient_link", "Patient, from the emailed link"
    CLINIC_TABLET = "clinic_tablet", "Patient, on a clinic tablet"
    STAFF_ENTERED = "staff_entered", "Entered by staff on the patient's behalf"


class Submission(models.Model):
    """A completed questionnaire: raw answers, instrument versions and scores, stored together, once.

    `answers` and `scores` are the patient's original and never change. The score columns hold the current
    values (equal to `scores` unless a clinician amendment corrected them) so dashboards aggregate in SQL.
    """

    follow_up = models.OneToOneField("outcomes.FollowUp", on_delete=models.PROTECT, related_name="submission")
    # Denormalised for dashboard aggregation without joins.
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.PROTECT, related_name="+")
    timepoint = models.CharField(max_length=8)
    submitted_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=SubmissionSource.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    late = models.BooleanField(default=False, help_text="Baseline answered after the injection day.")
    # {"KOOS": {"P1": {"score": 2, "option": "Monthly"}, ...}, "SAFETY": {...}}
    answers = models.JSONField()
    instrument_versions = models.JSONField()
    # The language the questions were asked in (the patient's, or English on staff entry): with the versions above,
    # which wording the answers were given to. Scores do not depend on it (answers are the options' values).
    language = models.CharField(max_length=16, default="en-gb")
    scores = models.JSONField()

    koos_pain = models.FloatField(null=True, blank=True)
    koos_symptoms = models.FloatField(null=True, blank=True)
    koos_adl = models.FloatField(null=True, blank=True)
    koos_sport_rec = models.FloatField(null=True, blank=True)
    koos_qol = models.FloatField(null=True, blank=True)
    oks_total = models.FloatField(null=True, blank=True)
    oks_imputed = models.BooleanField(default=False)
    vas_pain = models.FloatField(null=True, blank=True)
    patient_global = models.FloatField(null=True, blank=True)
    amended = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=SubmissionSource.values), name="submission_source_valid"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "timepoint"])]

    def __str__(self) -> str:
        return f"Submission for follow-up {self.follow_up_id}"

    def urgent_answers(self) -> tuple[str, ...]:
        """The patient's own answers (not a later amendment) that mean they should get care today."""
        from outcomes.questionnaire import urgent_answers  # the questionnaire module imports these models

        return urgent_answers(self.answers, self.instrument_versions)

    def emergency_answers(self) -> tuple[str, ...]:
        """The urgent answers that mean call emergency services now rather than the clinic."""
        from outcomes.questionnaire import emergency_answers

        return emergency_answers(self.answers, self.instrument_versions)


class Amendment(models.Model):
    """A clinician's correction of a submission, kept beside the original, never an overwrite of it."""

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="amendments")
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amended_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    answers_before = models.JSONField()
    answers_after = models.JSONField()
    scores_before = models.JSONField()
    scores_after = models.JSONField()

    class Meta:
        ordering = ["amended_at"]

    def __str__(self) -> str:
        return f"Amendment of submission {self.submission_id} at {self.amended_at:%Y-%m-%d %H:%M}"

from .followup import FollowUp, FollowUpStatus, Timepoint
from .plan_outcome import ClinicDataVersion, PlanOutcome, PlanOutcomeQueue
from .questionnaire import Amendment, QuestionnaireDraft, QuestionnaireLink, Submission, SubmissionSource

__all__ = [
    "Amendment",
    "ClinicDataVersion",
    "FollowUp",
    "FollowUpStatus",
    "PlanOutcome",
    "PlanOutcomeQueue",
    "QuestionnaireDraft",
    "QuestionnaireLink",
    "Submission",
    "SubmissionSource",
    "Timepoint",
]

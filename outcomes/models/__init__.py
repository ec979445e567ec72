from .followup import FollowUp, FollowUpStatus, Timepoint
from .questionnaire import Amendment, QuestionnaireDraft, QuestionnaireLink, Submission, SubmissionSource

__all__ = [
    "Amendment",
    "FollowUp",
    "FollowUpStatus",
    "QuestionnaireDraft",
    "QuestionnaireLink",
    "Submission",
    "SubmissionSource",
    "Timepoint",
]

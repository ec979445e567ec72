from .followup import FollowUp, FollowUpStatus, Timepoint
from .further_treatment import ARTHROPLASTY, FurtherTreatment, FurtherTreatmentKind
from .plan_outcome import ClinicDataVersion, PlanOutcome, PlanOutcomeQueue
from .questionnaire import Amendment, QuestionnaireDraft, QuestionnaireLink, Submission, SubmissionSource

__all__ = [
    "ARTHROPLASTY",
    "Amendment",
    "ClinicDataVersion",
    "FollowUp",
    "FollowUpStatus",
    "FurtherTreatment",
    "FurtherTreatmentKind",
    "PlanOutcome",
    "PlanOutcomeQueue",
    "QuestionnaireDraft",
    "QuestionnaireLink",
    "Submission",
    "SubmissionSource",
    "Timepoint",
]

from .followup import FollowUp, FollowUpStatus, Timepoint
from .further_treatment import ARTHROPLASTY, FurtherTreatment, FurtherTreatmentKind
from .plan_outcome import ClinicDataVersion, PlanOutcome, PlanOutcomeQueue
from .questionnaire import Amendment, QuestionnaireDraft, QuestionnaireLink, Submission, SubmissionSource
from .reminders import AllocationChanged, ComparisonArm, ReminderAllocation, ReminderComparison, ReminderStrategy

__all__ = [
    "ARTHROPLASTY",
    "AllocationChanged",
    "Amendment",
    "ClinicDataVersion",
    "ComparisonArm",
    "FollowUp",
    "FollowUpStatus",
    "FurtherTreatment",
    "FurtherTreatmentKind",
    "PlanOutcome",
    "PlanOutcomeQueue",
    "QuestionnaireDraft",
    "QuestionnaireLink",
    "ReminderAllocation",
    "ReminderComparison",
    "ReminderStrategy",
    "Submission",
    "SubmissionSource",
    "Timepoint",
]

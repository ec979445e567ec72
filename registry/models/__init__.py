from .clinic import Clinic, Membership
from .injection import Injection, TreatmentPlan
from .patient import Patient

__all__ = ["Clinic", "Injection", "Membership", "Patient", "TreatmentPlan"]

from .clinic import Clinic, Membership
from .component import InjectionComponent
from .injection import Injection, TreatmentPlan
from .patient import Patient

__all__ = ["Clinic", "Injection", "InjectionComponent", "Membership", "Patient", "TreatmentPlan"]

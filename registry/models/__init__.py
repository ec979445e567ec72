from .clinic import Clinic, ContactChannels, Membership
from .component import InjectionComponent
from .injection import Injection, TreatmentPlan
from .patient import Patient

__all__ = ["Clinic", "ContactChannels", "Injection", "InjectionComponent", "Membership", "Patient", "TreatmentPlan"]

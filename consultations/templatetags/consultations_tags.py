from django import template

from consultations.selectors import consultations_for
from registry.scoping import clinics_for

register = template.Library()


@register.inclusion_tag("consultations/_patient_consultations.html", takes_context=True)
def patient_consultations(context, patient):
    """The patient's consultations on their page, newest first, with "New consultation" for those who may write."""
    user = context["request"].user
    may_write = context.get("may_write")
    if may_write is None:
        may_write = clinics_for(user, write=True).filter(pk=patient.clinic_id).exists()
    consultations = list(consultations_for(user).filter(patient=patient).order_by("-consulted_on", "-id"))
    return {"patient": patient, "consultations": consultations, "may_write": may_write}

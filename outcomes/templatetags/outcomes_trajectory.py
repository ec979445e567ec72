"""``{% patient_trajectory patient %}``: a patient's score trajectory panel, for the patient's page.

The page's view has already found the patient through registry.scoping, so the tag trusts it."""

from django import template

from outcomes.analysis.trajectory import patient_trajectory as load_trajectory

register = template.Library()


@register.inclusion_tag("outcomes/patient_trajectory_panel.html")
def patient_trajectory(patient):
    return {"patient": patient, "trajectory": load_trajectory(patient)}

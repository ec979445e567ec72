from django import template

from notifications.selectors import patient_messages as select_patient_messages

register = template.Library()


@register.inclusion_tag("notifications/_patient_messages.html")
def patient_messages(patient):
    """Every email about this patient and how far it got (queued, sent, rejected, opened, started, completed).
    The patient page has already checked the user may see this patient."""
    rows = [(message, *message.delivery_state()) for message in select_patient_messages(patient)[:100]]
    return {"patient": patient, "rows": rows}

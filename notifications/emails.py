"""Rendering outbox rows into emails (plain text + HTML) from templates/notifications/email/.

Patient emails say who is asking (the clinic, with its contact address) and why, carry the questionnaire link and
an unsubscribe link, and never any score or clinical detail. The one exception to the links is the advice after
an urgent answer (contact the clinic today), a one-off reply with the clinic's phone number and no link at all.
Staff emails point to the registry, where access is checked, rather than carrying the detail themselves.
"""

import datetime as dt
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications.models import MessageKind, OutboundMessage

SUBJECTS = {
    MessageKind.INVITATION: "{clinic}: a short questionnaire about how you are getting on",
    MessageKind.REMINDER_1: "Reminder from {clinic}: your questionnaire",
    MessageKind.REMINDER_2: "Reminder from {clinic}: your questionnaire",
    MessageKind.FINAL_REMINDER: "Last reminder from {clinic}: your questionnaire closes soon",
    MessageKind.URGENT_FLAG: "Urgent: a safety report needs review ({clinic})",
    MessageKind.LINK_LOCKED: "A patient's questionnaire link was locked ({clinic})",
    MessageKind.MISSED_DIGEST: "{clinic}: daily registry summary",
    MessageKind.SAFETY_ADVICE: "Please contact {clinic} today",
}
TEMPLATES = {
    MessageKind.INVITATION: "invitation",
    MessageKind.REMINDER_1: "reminder",
    MessageKind.REMINDER_2: "reminder",
    MessageKind.FINAL_REMINDER: "reminder",
    MessageKind.URGENT_FLAG: "urgent_flag",
    MessageKind.LINK_LOCKED: "link_locked",
    MessageKind.MISSED_DIGEST: "missed_digest",
    MessageKind.SAFETY_ADVICE: "safety_advice",
}


def site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def questionnaire_url(token: str) -> str:
    return site_url(f"/q/{token}/")


def unsubscribe_url(token: str) -> str:
    return site_url(f"/unsubscribe/{token}/")


def _from_address(clinic) -> str:
    # The clinic is who is asking; the registry's own address is what actually sends.
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return formataddr((clinic.name, address))


def build(
    message: OutboundMessage,
    *,
    to: list[str],
    questionnaire_token: str | None = None,
    unsubscribe_token: str | None = None,
) -> EmailMultiAlternatives:
    clinic = message.clinic
    context = {
        "message": message,
        "kind": message.kind,
        "clinic": clinic,
        "contact_email": clinic.contact_email,
        "site_url": settings.SITE_URL,
        "data": message.context or {},
    }
    headers = {"Auto-Submitted": "auto-generated"}
    if message.follow_up_id and message.is_for_patient:
        context.update(
            closes_on=message.follow_up.closes_on,
            questionnaire_url=questionnaire_url(questionnaire_token) if questionnaire_token else "",
            unsubscribe_url=unsubscribe_url(unsubscribe_token) if unsubscribe_token else "",
            is_final=message.kind == MessageKind.FINAL_REMINDER,
        )
        if unsubscribe_token:
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
    if message.kind == MessageKind.SAFETY_ADVICE:
        # The answers themselves stay out of the email, as every clinical detail does (notifications.services.advice).
        answered_at = dt.datetime.fromisoformat(message.context["answered_at"]).astimezone(clinic.tzinfo)
        context.update(phone=clinic.phone, phone_link=clinic.phone_link, answered_on=answered_at.date())
    if message.kind == MessageKind.URGENT_FLAG:
        # A serious adverse event (notifications.receivers_events) travels as an urgent report with its own page.
        context["flag_url"] = site_url(message.context.get("url") or f"/flags/{message.context.get('flag_id')}/")
    if message.kind in (MessageKind.LINK_LOCKED, MessageKind.MISSED_DIGEST):
        context["chase_url"] = site_url("/chase/")
    if message.kind == MessageKind.LINK_LOCKED and message.patient_id:
        context["registry_number"] = message.patient.registry_number
        context["patient_url"] = site_url(f"/patients/{message.patient.registry_number}/")
    name = TEMPLATES[message.kind]
    email = EmailMultiAlternatives(
        subject=SUBJECTS[message.kind].format(clinic=clinic.name),
        body=render_to_string(f"notifications/email/{name}.txt", context),
        from_email=_from_address(clinic),
        to=to,
        reply_to=[clinic.contact_email] if clinic.contact_email else None,
        headers=headers,
    )
    email.attach_alternative(render_to_string(f"notifications/email/{name}.html", context), "text/html")
    return email

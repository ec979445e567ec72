"""Rendering outbox rows into emails (plain text + HTML) from templates/notifications/email/.

Patient emails say who is asking (the clinic, with its contact address) and why, which knee and injection each
questionnaire is about (a patient treated in both knees must tell them apart), carry each questionnaire's link and
an unsubscribe link, and never the product, a score or any other clinical detail. The one exception to the links
is the advice after an urgent answer (contact the clinic today), a one-off reply with the clinic's phone number
and no link at all.
Staff emails point to the registry, where access is checked, rather than carrying the detail themselves.
"""

import datetime as dt
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications.models import URGENT_STAFF_KINDS, MessageKind, OutboundMessage

# Patient emails name what they are about ({about}: "your left knee", or "both your knees" when one email lists
# two questionnaires), never the product or any score.
# Patient subjects are translated (the patient's language is active when they are built); staff ones stay English.
SUBJECTS = {
    MessageKind.INVITATION: gettext_lazy("{clinic}: a short questionnaire about {about}"),
    MessageKind.REMINDER_1: gettext_lazy("Reminder from {clinic}: your {questionnaires} about {about}"),
    MessageKind.REMINDER_2: gettext_lazy("Reminder from {clinic}: your {questionnaires} about {about}"),
    MessageKind.FINAL_REMINDER: gettext_lazy(
        "Last reminder from {clinic}: your {questionnaires} about {about} {close} soon"
    ),
    MessageKind.URGENT_FLAG: "Urgent: a safety report needs review ({clinic})",
    MessageKind.SERIOUS_EVENT: "Urgent: a safety report needs review ({clinic})",
    MessageKind.LINK_LOCKED: "A patient's questionnaire link was locked ({clinic})",
    MessageKind.MISSED_DIGEST: "{clinic}: daily registry summary",
    MessageKind.SAFETY_ADVICE: gettext_lazy("Please contact {clinic} today"),
}
# The day 2-3 and day 10-14 safety checks say what they are: short, and about safety, not another questionnaire.
SAFETY_CHECK_SUBJECTS = {
    MessageKind.INVITATION: gettext_lazy("{clinic}: a 2-minute safety check about {about}"),
    MessageKind.REMINDER_1: gettext_lazy("Reminder from {clinic}: your 2-minute safety check about {about}"),
}
# "your left knee": whole phrases per knee, as languages place the word for "left" differently.
YOUR_KNEE = {
    "left": gettext_lazy("your left knee"),
    "right": gettext_lazy("your right knee"),
}
TEMPLATES = {
    MessageKind.INVITATION: "invitation",
    MessageKind.REMINDER_1: "reminder",
    MessageKind.REMINDER_2: "reminder",
    MessageKind.FINAL_REMINDER: "reminder",
    MessageKind.URGENT_FLAG: "urgent_flag",
    MessageKind.SERIOUS_EVENT: "urgent_flag",  # the same words: an urgent report, with its own page
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


@dataclass(frozen=True)
class Questionnaire:
    """One questionnaire listed in a patient email: which knee and injection it is about, and its own link."""

    label: str  # "your left knee, injected on 3 March 2026"
    knee: str  # "your left knee", for the button
    url: str
    closes_on: dt.date


def patient_language(message: OutboundMessage) -> str:
    """The language a patient's email is written in: theirs, else their clinic's default (the row's clinic is
    loaded with it, so this costs no query)."""
    patient = message.patient
    return (patient.preferred_language if patient else "") or message.clinic.default_language


def _your_knee(follow_up) -> str:
    return str(YOUR_KNEE.get(follow_up.plan.knee, YOUR_KNEE["left"]))


def _about(messages: list[OutboundMessage]) -> str:
    knees = {m.follow_up.plan.knee for m in messages}
    if len(messages) == 1:
        return _your_knee(messages[0].follow_up)
    if len(knees) == 2:
        return _("both your knees")
    count = len(messages)
    return ngettext("%(knee)s (%(count)s questionnaire)", "%(knee)s (%(count)s questionnaires)", count) % {
        "knee": _your_knee(messages[0].follow_up),
        "count": count,
    }


def build_questionnaires(
    messages: list[OutboundMessage],
    *,
    to: list[str],
    questionnaire_tokens: list[str],
    unsubscribe_token: str,
    message_id: str,
) -> EmailMultiAlternatives:
    """One patient email (invitation or reminder) listing one or more questionnaires of one patient, each with its
    knee, injection date and link: a patient treated in both knees gets one email, not two identical ones.
    Written in the patient's language (subject, text and HTML)."""
    with translation.override(patient_language(messages[0])):
        return _build_questionnaires(
            messages,
            to=to,
            questionnaire_tokens=questionnaire_tokens,
            unsubscribe_token=unsubscribe_token,
            message_id=message_id,
        )


def _build_questionnaires(
    messages: list[OutboundMessage],
    *,
    to: list[str],
    questionnaire_tokens: list[str],
    unsubscribe_token: str,
    message_id: str,
) -> EmailMultiAlternatives:
    first = messages[0]
    clinic = first.clinic
    questionnaires = [
        Questionnaire(
            label=m.follow_up.patient_label,
            knee=_your_knee(m.follow_up),
            url=questionnaire_url(token),
            closes_on=m.follow_up.closes_on,
        )
        for m, token in zip(messages, questionnaire_tokens, strict=True)
    ]
    # sending.py gives a safety check an email of its own, so the rows are all safety checks or none is.
    safety_check = all(m.follow_up.is_safety_check for m in messages)
    context = {
        "message": first,
        "kind": first.kind,
        "clinic": clinic,
        "contact_email": clinic.contact_email,
        "site_url": settings.SITE_URL,
        "questionnaires": questionnaires,
        "safety_check": safety_check,
        # The single-questionnaire wording (and older templates) read these.
        "questionnaire_url": questionnaires[0].url,
        "closes_on": min(q.closes_on for q in questionnaires),
        "unsubscribe_url": unsubscribe_url(unsubscribe_token),
        "is_final": first.kind == MessageKind.FINAL_REMINDER,
    }
    headers = {
        "Auto-Submitted": "auto-generated",
        "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
        "Message-ID": message_id,
    }
    name = TEMPLATES[first.kind]
    email = EmailMultiAlternatives(
        subject=((safety_check and SAFETY_CHECK_SUBJECTS.get(first.kind)) or SUBJECTS[first.kind]).format(
            clinic=clinic.name,
            about=_about(messages),
            questionnaires=ngettext("questionnaire", "questionnaires", len(messages)),
            close=ngettext("closes", "close", len(messages)),
        ),
        body=render_to_string(f"notifications/email/{name}.txt", context),
        from_email=_from_address(clinic),
        to=to,
        reply_to=[clinic.contact_email] if clinic.contact_email else None,
        headers=headers,
    )
    email.attach_alternative(render_to_string(f"notifications/email/{name}.html", context), "text/html")
    return email


def build(message: OutboundMessage, *, to: list[str]) -> EmailMultiAlternatives:
    """Every email but the questionnaire ones (build_questionnaires): staff notices and the patient's advice.
    The patient's advice is in their language; staff emails are English, whatever is active in the worker."""
    assert not message.is_for_patient, "questionnaire emails are built by build_questionnaires"
    to_patient = message.kind == MessageKind.SAFETY_ADVICE
    with translation.override(patient_language(message) if to_patient else settings.LANGUAGE_CODE):
        return _build(message, to=to)


def _build(message: OutboundMessage, *, to: list[str]) -> EmailMultiAlternatives:
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
    if message.kind == MessageKind.SAFETY_ADVICE:
        # The answers themselves stay out of the email, as every clinical detail does (notifications.services.advice).
        answered_at = dt.datetime.fromisoformat(message.context["answered_at"]).astimezone(clinic.tzinfo)
        context.update(
            phone=clinic.phone,
            phone_link=clinic.phone_link,
            answered_on=answered_at.date(),
            emergency=message.context.get("emergency") is True,
        )
        if message.follow_up_id:
            context["about"] = message.follow_up.patient_label
    if message.kind in URGENT_STAFF_KINDS:
        # A serious adverse event's row carries its page ("url"); rows written before it had its own kind too.
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

"""The words of patient text messages. Short (at most two GSM-7 segments), saying who is asking, carrying the
questionnaire link, and nothing clinical: a text shows on a locked phone's screen, so no product, no diagnosis,
no knee detail beyond "your knee"."""

from notifications.emails import questionnaire_url
from notifications.models import MessageKind

MAX_CLINIC_NAME = 40
GSM7_SEGMENT = 153  # characters per segment of a multi-part GSM-7 text (160 for a single one)

_WORDS = {
    MessageKind.INVITATION: "{clinic}: please tell us how your knee is now. It takes a few minutes: {url}",
    MessageKind.REMINDER_1: "{clinic}: a reminder to tell us how your knee is now. It takes a few minutes: {url}",
    MessageKind.REMINDER_2: "{clinic}: a last reminder to tell us how your knee is now: {url}",
    MessageKind.FINAL_REMINDER: "{clinic}: a last reminder to tell us how your knee is now: {url}",
}


def _clinic_name(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= MAX_CLINIC_NAME else name[: MAX_CLINIC_NAME - 3].rstrip() + "..."


def questionnaire_text(*, kind: str, clinic_name: str, token: str, supports_stop: bool) -> str:
    body = _WORDS[kind].format(clinic=_clinic_name(clinic_name), url=questionnaire_url(token))
    if supports_stop:
        body += " Reply STOP to opt out."
    return body

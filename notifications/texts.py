"""The words of patient text messages. Short (at most two GSM-7 segments), saying who is asking, carrying the
questionnaire link, and nothing clinical: a text shows on a locked phone's screen, so no product, no diagnosis,
no knee detail beyond "your knee" (or "both your knees" when one text asks about both: its one link leads from
the first questionnaire to the second). Written in the patient's language."""

from django.utils import translation
from django.utils.translation import gettext_lazy

from notifications.emails import questionnaire_url
from notifications.models import MessageKind

MAX_CLINIC_NAME = 40
GSM7_SEGMENT = 153  # characters per segment of a multi-part GSM-7 text (160 for a single one)

_WORDS = {
    MessageKind.INVITATION: gettext_lazy(
        "{clinic}: please tell us how your knee is now. It takes a few minutes: {url}"
    ),
    MessageKind.REMINDER_1: gettext_lazy(
        "{clinic}: a reminder to tell us how your knee is now. It takes a few minutes: {url}"
    ),
    MessageKind.REMINDER_2: gettext_lazy("{clinic}: a last reminder to tell us how your knee is now: {url}"),
    MessageKind.FINAL_REMINDER: gettext_lazy("{clinic}: a last reminder to tell us how your knee is now: {url}"),
}
# One text for a patient's questionnaires about both knees due together: one link, one questionnaire after the other.
_WORDS_BOTH_KNEES = {
    MessageKind.INVITATION: gettext_lazy(
        "{clinic}: please tell us how both your knees are now, one after the other. It takes a few minutes: {url}"
    ),
    MessageKind.REMINDER_1: gettext_lazy(
        "{clinic}: a reminder to tell us how both your knees are now, one after the other. "
        "It takes a few minutes: {url}"
    ),
    MessageKind.REMINDER_2: gettext_lazy("{clinic}: a last reminder to tell us how both your knees are now: {url}"),
    MessageKind.FINAL_REMINDER: gettext_lazy("{clinic}: a last reminder to tell us how both your knees are now: {url}"),
}
_STOP = gettext_lazy("Reply STOP to opt out.")


def _clinic_name(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= MAX_CLINIC_NAME else name[: MAX_CLINIC_NAME - 3].rstrip() + "..."


def questionnaire_text(
    *, kind: str, clinic_name: str, token: str, supports_stop: bool, both_knees: bool = False, language: str = ""
) -> str:
    words = _WORDS_BOTH_KNEES if both_knees else _WORDS
    with translation.override(language or translation.get_language()):
        body = str(words[kind]).format(clinic=_clinic_name(clinic_name), url=questionnaire_url(token))
        if supports_stop:
            body += " " + str(_STOP)
    return body

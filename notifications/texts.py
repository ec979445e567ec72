"""The words of patient text messages. Short (at most two segments in English and in Welsh), saying who is asking,
carrying the questionnaire link, and nothing clinical: a text shows on a locked phone's screen, so no product, no
diagnosis, no knee detail beyond "your knee" (or "both your knees" when one text asks about both: its one link
leads from the first questionnaire to the second).

Written in the patient's language (the sending service passes it; notifications.emails.patient_language). A single
character outside GSM-7 (Welsh â, ŵ, ŷ) makes the whole text UCS-2, 67 characters a segment instead of 153, so
the Welsh words are chosen without circumflexes where Welsh allows it; ``segments`` measures what a text costs and
tests/notifications/test_text_language.py states it.
"""

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext_lazy

from notifications.emails import questionnaire_url
from notifications.models import MessageKind

MAX_CLINIC_NAME = 40
GSM7_SEGMENT = 153  # characters per segment of a multi-part GSM-7 text (160 for a single one)
UCS2_SEGMENT = 67  # UTF-16 code units per segment of a multi-part UCS-2 text (70 for a single one)
# GSM 03.38: the basic set (one septet each) and its extension table (an escape plus one septet: two).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

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


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int  # the segments the provider bills and the phone joins


def segments(body: str) -> Segments:
    """What a text costs: its encoding, length and number of segments (single: 160 GSM-7 / 70 UCS-2)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body):
        length = sum(2 if c in GSM7_EXTENSION else 1 for c in body)
        return Segments("GSM-7", length, 1 if length <= 160 else -(-length // GSM7_SEGMENT))
    length = len(body.encode("utf-16-le")) // 2
    return Segments("UCS-2", length, 1 if length <= 70 else -(-length // UCS2_SEGMENT))


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

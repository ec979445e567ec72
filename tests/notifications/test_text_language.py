"""Text messages in the patient's language (issue 17): the sending service writes a Welsh patient's text in Welsh
and everyone else's in English, and every text stays short. Measured here, with a 90-character link (a 43-character
token on https://knee-outcomes-registry.example.org) and the "Reply STOP" line:
- English and Welsh, any clinic name of plain letters (cut at 40 characters): GSM-7, 180-234 characters, 2 segments.
  The Welsh words avoid circumflexes (â, ŵ, ŷ) so that a Welsh text stays GSM-7.
- A clinic name with one such letter ("Glan Môr") makes the whole text UCS-2 (67 characters a segment): 3 or 4
  segments in either language. The name is who is asking, so it is sent as written.
"""

import pytest
from django.utils import translation

from notifications import services
from notifications.models import MessageKind, MessageStatus
from notifications.texts import questionnaire_text, segments
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at

pytestmark = pytest.mark.django_db
TOKEN = "A" * 43  # secrets.token_urlsafe(32)
KINDS = (MessageKind.INVITATION, MessageKind.REMINDER_1, MessageKind.REMINDER_2, MessageKind.FINAL_REMINDER)


@pytest.fixture
def site(settings):
    settings.SITE_URL = "https://knee-outcomes-registry.example.org"


def _text(language: str, kind: str, clinic: str) -> str:
    with translation.override(language):
        return questionnaire_text(kind=kind, clinic_name=clinic, token=TOKEN, supports_stop=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("clinic", ["North Knee Clinic", "St Bartholomew's Orthopaedic Knee Clinic and Outpatients"])
def test_english_and_welsh_texts_are_gsm7_and_two_segments(site, kind, clinic):
    english, welsh = _text("en-gb", kind, clinic), _text("cy", kind, clinic)
    assert "how your knee is now" in english
    assert "sut mae eich pen-glin nawr" in welsh
    assert welsh.endswith("Atebwch STOP i optio allan.")  # STOP stays the keyword providers act on
    for body in (english, welsh):
        measured = segments(body)
        assert measured.encoding == "GSM-7", body
        assert 160 < measured.length <= 2 * 153
        assert measured.count == 2
        assert f"https://knee-outcomes-registry.example.org/q/{TOKEN}/" in body


def test_the_exact_lengths_of_the_longest_texts(site):
    """The numbers the module's notes state, so a longer wording has to be measured again."""
    long_name = "St Bartholomew's Orthopaedic Knee Clinic and Outpatients"
    assert [segments(_text("en-gb", k, long_name)).length for k in KINDS[:3]] == [215, 222, 203]
    assert [segments(_text("cy", k, long_name)).length for k in KINDS[:3]] == [233, 234, 222]


def test_one_circumflex_in_the_clinic_name_makes_a_text_ucs2(site):
    for language, expected in (("en-gb", [3, 4, 3]), ("cy", [4, 4, 4])):
        measured = [segments(_text(language, k, "Clinig Pen-glin Glan Môr")) for k in KINDS[:3]]
        assert {m.encoding for m in measured} == {"UCS-2"}
        assert [m.count for m in measured] == expected, language


def test_segments_counts_as_providers_do():
    assert segments("a" * 160) == segments("a" * 160).__class__("GSM-7", 160, 1)
    assert segments("a" * 161).count == 2
    assert segments("a" * 306).count == 2
    assert segments("a" * 307).count == 3
    assert segments("€" * 80).length == 160  # the extension table costs two septets
    assert segments("ŵ" * 70) == segments("ŵ").__class__("UCS-2", 70, 1)
    assert segments("ŵ" * 71).count == 2  # 67 a segment once split
    assert segments("ŵ" * 135).count == 3


@pytest.mark.parametrize(
    ("language", "words"),
    [("cy", "dywedwch wrthym sut mae eich pen-glin nawr"), ("", "please tell us how your knee is now")],
)
def test_the_sending_service_writes_each_patient_in_their_language(
    clock, clinic, clinician, settings, tmp_path, language, words
):
    """Through the outbox and the dev transport, as a clinic's texts go out; the worker's own language is English."""
    from notifications.mailbox import read_mailbox

    settings.MAILBOX_DIR = tmp_path
    settings.SMS_BACKEND = "notifications.sms.DevSmsBackend"
    patient = PatientFactory(
        clinic=clinic,
        phone="+447700900123",
        consent_sms_contact=True,
        consent_email_contact=False,
        preferred_language=language,
    )
    clock.move_to(at(2026, 3, 30, 9, 30))
    make_injection(patient, clinician, injected_on=at(2026, 3, 2).date())
    with translation.override("en-gb"):
        services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    (item,) = read_mailbox()
    assert f"North Knee Clinic: {words}" in item["text"]
    assert patient.messages.filter(status=MessageStatus.SENT).count() == 1


def test_a_patient_without_a_choice_gets_their_clinics_language(clock, clinic, clinician, settings, tmp_path):
    from notifications.mailbox import read_mailbox

    settings.MAILBOX_DIR = tmp_path
    settings.SMS_BACKEND = "notifications.sms.DevSmsBackend"
    clinic.default_language = "cy"
    clinic.save(update_fields=["default_language"])
    patient = PatientFactory(
        clinic=clinic, phone="+447700900124", consent_sms_contact=True, consent_email_contact=False
    )
    patient.preferred_language = ""
    patient.save(update_fields=["preferred_language"])
    clock.move_to(at(2026, 3, 30, 9, 30))
    make_injection(patient, clinician, injected_on=at(2026, 3, 2).date())
    services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))
    (item,) = read_mailbox()
    assert "North Knee Clinic: dywedwch wrthym" in item["text"]

"""The patient-facing catalogue (issue 17): every string has a Welsh translation, the committed .mo matches the
.po, a string without one falls back to English (never a key) and the check names it; a patient's language is
recorded, defaulting to their clinic's, with an audit trail."""

import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from registry import services
from registry.i18n import catalogue_path, check_translations_complete, missing_translations, translated_languages

WELSH_PO = Path(settings.BASE_DIR) / "locale" / "cy" / "LC_MESSAGES" / "django.po"
REMOVED = "This questionnaire has closed"


def test_every_patient_facing_string_has_a_welsh_translation():
    assert translated_languages() == ["cy"]
    assert missing_translations(catalogue_path("cy")) == []


def test_the_welsh_catalogue_says_it_is_a_demo_translation():
    catalogue = polib.pofile(str(WELSH_PO))
    assert catalogue.metadata["X-Demo-Translation"] == "yes"
    assert "not certified translators" in catalogue.header


def test_the_committed_mo_is_compiled_from_the_po():
    """compilemessages after editing the .po: the .mo is what Django reads."""
    po = {(e.msgid, e.msgstr, tuple(sorted(e.msgstr_plural.items()))) for e in polib.pofile(str(WELSH_PO))}
    mo = {
        (e.msgid, e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.mofile(str(WELSH_PO.with_suffix(".mo")))
    }
    assert po == mo


def test_the_system_check_is_quiet_on_a_complete_catalogue():
    assert check_translations_complete() == []


@pytest.fixture
def catalogue_missing_one(tmp_path, settings):
    """A copy of the Welsh catalogue with one msgstr removed, compiled and in force."""
    target = tmp_path / "cy" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(WELSH_PO, target / "django.po")
    po = polib.pofile(str(target / "django.po"))
    po.find(REMOVED).msgstr = ""
    po.save()
    po.save_as_mofile(str(target / "django.mo"))
    settings.LOCALE_PATHS = [tmp_path]  # Django's setting_changed receiver forgets the cached catalogues
    return target / "django.po"


def test_the_check_lists_a_removed_translation(catalogue_missing_one):
    assert missing_translations(catalogue_missing_one) == [REMOVED]
    (warning,) = check_translations_complete()
    assert warning.id == "registry.W102"
    assert REMOVED in warning.msg


def test_a_missing_translation_falls_back_to_english_never_a_key(catalogue_missing_one):
    with translation.override("cy"):
        html = render_to_string("outcomes/q_state.html", {"state": "expired"})
    assert f"<h1>{REMOVED}</h1>" in html  # the English source text
    assert "Questionnaire closed" not in html  # ...while the rest of the page is still Welsh
    assert "Holiadur wedi cau" in html


def test_a_fuzzy_translation_counts_as_missing(tmp_path):
    po = polib.pofile(str(WELSH_PO))
    po.find(REMOVED).flags.append("fuzzy")
    po.save(str(tmp_path / "django.po"))
    assert missing_translations(tmp_path / "django.po") == [REMOVED]


@pytest.mark.django_db
def test_a_new_patient_gets_the_clinics_default_language_and_a_change_is_audited(clinic, clinician):
    clinic.default_language = "cy"
    clinic.save()
    data = {
        "year_of_birth": 1958,
        "consent_on": "2026-01-05",
        "consent_version": "v1",
        "consent_registry": True,
    }
    patient = services.patient_enrol(clinic=clinic, by=clinician, data=data)
    assert patient.preferred_language == "cy"
    assert patient.language == "cy"

    services.patient_update(patient=patient, by=clinician, data={"preferred_language": "en-gb"}, reason="Asked")
    patient.refresh_from_db()
    assert patient.preferred_language == "en-gb"
    latest = patient.history.first()
    assert latest.preferred_language == "en-gb"
    assert latest.history_change_reason == "Asked"
    assert patient.history.last().preferred_language == "cy"


@pytest.mark.django_db
def test_an_unknown_language_is_refused(clinic, clinician):
    from django.core.exceptions import ValidationError

    data = {"year_of_birth": 1958, "consent_on": "2026-01-05", "consent_version": "v1", "preferred_language": "xx"}
    with pytest.raises(ValidationError) as caught:
        services.patient_enrol(clinic=clinic, by=clinician, data=data)
    assert "preferred_language" in caught.value.message_dict

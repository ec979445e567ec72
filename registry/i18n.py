"""The patient's language: which one their pages and emails use, and the check that every patient-facing string
has a translation in every language the registry offers.

Staff pages stay English (there is no LocaleMiddleware). A patient's page is in the language of the patient its
link belongs to; the page's own language switch (``?lang=cy``) may change it for that page, and a page that knows
no patient (an unknown link) follows the browser. A string with no translation is shown in English (gettext's
fallback), never as a key, and ``missing_translations`` names it so that it gets one.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.http import HttpRequest
from django.utils import translation

LANGUAGE_PARAMETER = "lang"  # the patient pages' language switch: ?lang=cy
# The catalogue every patient-facing string is in (makemessages writes it; the domain is Django's default).
CATALOGUE = "LC_MESSAGES/django.po"


def supported(code: str | None) -> str | None:
    """The language of settings.LANGUAGES that `code` names ("cy", "CY", "en" -> "en-gb"), or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code.lower())
    except LookupError:
        return None


def patient_page_language(request: HttpRequest, patient=None, known: str | None = None) -> str:
    """The language of a patient's page: the switch, else the patient's own, else one the page carries (`known`:
    the thanks page has no link to find the patient by), else the browser's."""
    chosen = supported(request.GET.get(LANGUAGE_PARAMETER))
    if chosen:
        return chosen
    if patient is not None:
        return supported(patient.language) or settings.LANGUAGE_CODE
    if supported(known):
        return supported(known)
    return supported(translation.get_language_from_request(request)) or settings.LANGUAGE_CODE


@contextmanager
def patient_language(request: HttpRequest, patient=None, known: str | None = None) -> Iterator[str]:
    """Render a patient's page in their language (see patient_page_language)."""
    language = patient_page_language(request, patient, known)
    with translation.override(language):
        yield language


def language_switch(current: str) -> list[dict[str, str]]:
    """The patient pages' switch: each other language in its own name, with the ?lang= value that picks it."""
    links = []
    for code, _name in settings.LANGUAGES:
        if code == current:
            continue
        info = translation.get_language_info(code)
        links.append({"code": code, "name": info["name_local"], "lang": code})
    return links


# --- the completeness check ---------------------------------------------------------------------------------


def catalogue_path(language: str, locale_dir: Path | None = None) -> Path:
    base = locale_dir or Path(settings.LOCALE_PATHS[0])
    return base / translation.to_locale(language) / CATALOGUE


def missing_translations(po_file: Path) -> list[str]:
    """Every msgid of a .po file without a usable translation (empty, or marked fuzzy), in file order."""
    import polib  # imported late: only the check and its test read catalogues

    catalogue = polib.pofile(str(po_file))
    missing = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            done = bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
        else:
            done = bool(entry.msgstr)
        if not done or entry.fuzzy:
            missing.append(entry.msgid)
    return missing


def translated_languages() -> list[str]:
    """The languages of settings.LANGUAGES that need a catalogue: all but the source language (English)."""
    source = settings.LANGUAGE_CODE.split("-")[0]
    return [code for code, _name in settings.LANGUAGES if code.split("-")[0] != source]


@checks.register(checks.Tags.translation)
def check_translations_complete(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A warning per language whose catalogue is missing or has untranslated strings (shown in English)."""
    found: list[checks.CheckMessage] = []
    for language in translated_languages():
        path = catalogue_path(language)
        if not path.exists():
            found.append(
                checks.Warning(
                    f"No catalogue for {language}: patients get English. Expected {path}.",
                    hint=f"python manage.py makemessages -l {translation.to_locale(language)}",
                    id="registry.W101",
                )
            )
            continue
        missing = missing_translations(path)
        if missing:
            listed = "; ".join(repr(m[:60]) for m in missing[:10])
            found.append(
                checks.Warning(
                    f"{len(missing)} string(s) without a {language} translation (shown in English): {listed}",
                    hint=f"Translate them in {path} and run python manage.py compilemessages.",
                    id="registry.W102",
                )
            )
    return found

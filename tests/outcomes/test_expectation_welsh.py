"""The patient's figure sentences in Welsh (issue 17): a sentence whose noun follows a count takes the Welsh plural
form of that count (this catalogue's Plural-Forms: 1; 2; 3 and up; 8 and 11), and a count given as words ("fewer
than 10", a range) is translated and picks its form by its bound."""

import pytest
from django.utils import translation

from outcomes.analysis.expectation import _number, _treated_at, option_sentences

# The knees and clinics after 1, 2, 3, 6, 8, 11 and 20: "1 pen-glin", "2 ben-glin", else "o bengliniau".
WELSH_FORMS = {
    1: ("1 pen-glin", "1 clinig"),
    2: ("2 ben-glin", "2 glinig"),
    3: ("3 o bengliniau", "3 o glinigau"),
    6: ("6 o bengliniau", "6 o glinigau"),
    8: ("8 o bengliniau", "8 o glinigau"),
    11: ("11 o bengliniau", "11 o glinigau"),
    20: ("20 o bengliniau", "20 o glinigau"),
}


def _not_enough(minimum: int) -> list[str]:
    result = {"timepoint": "6m", "timepoint_label": "6 months", "minimum": minimum}
    return option_sentences(result, {"product": "ha", "name": "hyaluronic acid (HA)", "enough": False})


def _clinics_line(clinics: int) -> str:
    """The last line of an option with figures: where and when its knees were treated."""
    return _treated_at({"clinics": clinics, "period": "March 2026", "first_month": "2026-03", "last_month": "2026-03"})


@pytest.mark.parametrize(("count", "words"), WELSH_FORMS.items())
def test_a_count_takes_its_welsh_plural_form(count, words):
    knees, clinics = words
    with translation.override("cy"):
        assert _not_enough(count) == [
            "Dim digon o ddata yn y gofrestrfa hon am asid hyalwronig (HA) ar ôl 6 mis.",
            f"Nid ydym yn rhoi rhifau o lai na {knees}.",
        ]
        assert _clinics_line(count) == f"Cafodd y pengliniau hyn eu trin mewn {clinics}, ym mis Mawrth 2026."


@pytest.mark.parametrize("count", WELSH_FORMS)
def test_english_keeps_its_two_forms(count):
    assert _not_enough(count)[1] == f"We do not give numbers from fewer than {count} knee{'' if count == 1 else 's'}."
    clinics = "1 clinic" if count == 1 else f"{count} clinics"
    assert _clinics_line(count) == f"These knees were treated at {clinics}, March 2026."


def test_a_count_in_words_is_translated_and_picks_its_form_by_its_bound():
    with translation.override("cy"):
        assert _number("fewer than 10", 10) == ("llai na 10", 10)
        assert _number("21 to 29", 10) == ("21 i 29", 29)
        assert _number("withheld", 10) == ("heb ei ddangos", 10)
        assert _number("12", 10) == ("12", 12)

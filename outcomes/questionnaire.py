"""The questionnaire a follow-up asks, and turning posted form values into stored answers and scores.

Form inputs are named `<INSTRUMENT>.<ITEM>` (e.g. `KOOS.P1`, `VAS.pain`) with the item's scoring-key value,
so the reversed KOOS items are resolved by the instrument definition, never here.
"""

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from outcomes.instruments import Instrument, current_version, get_instrument
from outcomes.models import FollowUp, Timepoint
from outcomes.scoring import koos4, score, score_detail

PROMS = ("KOOS", "OKS", "VAS", "PGA")
# The early safety checks ask the pain slider (so "swelling with pain 20 mm worse" can compare it with the knee's
# previous score) and the short early safety questions: a 2-minute check, no outcome measures.
SAFETY_CHECK = ("VAS", "SAFETY_EARLY")
# What happened to the knee since the last questionnaire (other injections, operations, pain medicine, exercise):
# asked at every follow-up after baseline, so time to knee replacement has an event date (issue 15).
FURTHER = "FURTHER"
# No injection has happened at baseline, so there is nothing yet to ask about safety or further treatment. The
# safety questions come last, just before sending: what the thanks page's urgent advice follows from.
INSTRUMENTS_BY_TIMEPOINT = {
    Timepoint.BASELINE: PROMS,
    Timepoint.DAY_3: SAFETY_CHECK,
    Timepoint.DAY_12: SAFETY_CHECK,
    Timepoint.ONE_MONTH: (*PROMS, FURTHER, "SAFETY"),
    Timepoint.SIX_MONTHS: (*PROMS, FURTHER, "SAFETY"),
    Timepoint.TWELVE_MONTHS: (*PROMS, FURTHER, "SAFETY"),
    Timepoint.TWENTY_FOUR_MONTHS: (*PROMS, FURTHER, "SAFETY"),
}
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_TEXT = 2000
YES, NO = "yes", "no"


def instruments_for(
    follow_up: FollowUp, versions: dict[str, str] | None = None, language: str | None = None
) -> list[Instrument]:
    codes = INSTRUMENTS_BY_TIMEPOINT[follow_up.timepoint]
    if versions:
        # A stored submission (an amendment, its page) keeps the instruments it was given in: one answered before
        # the further-treatment questions existed is corrected without them.
        codes = tuple(code for code in codes if code in versions)
    return [get_instrument(code, (versions or {}).get(code), language) for code in codes]


def product_of(follow_up: FollowUp) -> str:
    return follow_up.plan.product


def _clean_text(value: str) -> str:
    return value.replace("\x00", "").strip()[:MAX_TEXT]


def _parse_value(instrument: Instrument, item, raw: Any) -> tuple[Any, str | None]:
    """(answer, option label) or ValueError with a message for the patient."""
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None, None
    if item.type == "text":
        # Refused rather than silently cut or cleaned: the stored answer is exactly what the patient sent.
        if "\x00" in str(raw):
            raise ValueError(_("This answer contains a character that cannot be stored."))
        if len(str(raw).strip()) > MAX_TEXT:
            raise ValueError(_("Please keep this answer under %(max)s characters.") % {"max": MAX_TEXT})
        return _clean_text(str(raw)), None
    if item.type == "month":
        match = MONTH.match(str(raw).strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(_("Give the year and month, e.g. 2026-09."))
        return match[0], None
    if item.type == "yesno":
        value = str(raw).strip().lower()
        if value not in (YES, NO):
            raise ValueError(_("Choose yes or no."))
        return value == YES, None
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ValueError(_("Choose one of the answers.")) from None
    if item.type == "slider":
        if not item.min <= number <= item.max:
            raise ValueError(_("Give a number from %(min)s to %(max)s.") % {"min": item.min, "max": item.max})
        return number, None
    for option in item.options:
        if option.score == number:
            return number, option.label
    raise ValueError(_("Choose one of the answers."))


def parse(
    follow_up: FollowUp, data, versions: dict[str, str] | None = None, language: str | None = None
) -> tuple[dict, dict[str, str]]:
    """Posted form values -> ({instrument: {item: {"score"/"value", "option"}}}, {instrument: version}).

    Raises ValidationError keyed by input name for unknown inputs, invalid values and missing required items.
    """
    product = product_of(follow_up)
    errors: dict[str, list[str]] = {}
    answers: dict[str, dict[str, dict[str, Any]]] = {}
    used_versions: dict[str, str] = {}
    expected: set[str] = set()
    instruments = instruments_for(follow_up, versions, language)
    for instrument in instruments:
        used_versions[instrument.code] = instrument.version
        answers[instrument.code] = {}
        for item in instrument.items_for_product(product):
            name = f"{instrument.code}.{item.code}"
            expected.add(name)
            raw = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
            try:
                value, label = _parse_value(instrument, item, raw)
            except ValueError as exc:
                errors[name] = [str(exc)]
                continue
            if value is None:
                if item.required:
                    errors[name] = [_("Please answer this question.")]
                continue
            entry: dict[str, Any] = {"value": value}
            if label is not None:
                entry["option"] = label
            answers[instrument.code][item.code] = entry
    for instrument in instruments:
        _check_conditional(follow_up, instrument, answers[instrument.code], errors, product)
    for name in data:
        if "." in name and name not in expected:
            errors[name] = [_("This question is not part of this questionnaire.")]
    if errors:
        raise ValidationError(errors)
    return answers, used_versions


def _check_conditional(follow_up: FollowUp, instrument: Instrument, given: dict, errors: dict, product) -> None:
    """Items asked "if yes": answered when their question is yes, empty when it is no (a contradiction the
    patient can fix, never one we guess at). A month must lie between the plan's first injection and today."""
    for item in instrument.items_for_product(product):
        name = f"{instrument.code}.{item.code}"
        if name in errors:
            continue
        if item.required_if and item.required_if in given:
            answered = item.code in given
            if given[item.required_if]["value"] and not answered:
                errors[name] = [_("Please answer this question (you answered yes above).")]
            elif not given[item.required_if]["value"] and answered:
                errors[name] = [_("You answered no above: leave this empty, or change that answer to yes.")]
        if item.type == "month" and item.code in given:
            year, month = (int(part) for part in given[item.code]["value"].split("-"))
            day = dt.date(year, month, 1)
            # Read only when a month was given: a baseline (no month items) is parsed without a saved plan too.
            first_month = follow_up.injection_day.replace(day=1)
            this_month = timezone.localdate(timezone=follow_up.clinic.tzinfo).replace(day=1)
            if day > this_month:
                errors[name] = [_("This month is still to come: give the month it happened.")]
            elif day < first_month:
                month = dateformat.format(first_month, "F Y")  # the month name in the active language
                errors[name] = [_("Give a month since your injection (%(month)s) or later.") % {"month": month}]


def item_values(answers: dict, instrument_code: str) -> dict[str, Any]:
    return {code: entry["value"] for code, entry in answers.get(instrument_code, {}).items()}


def score_all(answers: dict, versions: dict[str, str]) -> dict[str, Any]:
    """Every score the registry keeps for one submission, via the one public scoring API."""
    scores: dict[str, Any] = {}
    if "KOOS" in answers:
        koos = score("KOOS", item_values(answers, "KOOS"), versions.get("KOOS"))
        scores["KOOS"] = koos
        scores["KOOS4"] = koos4(koos)
        # KOOS JR is derived from seven KOOS items, so it costs the patient nothing extra.
        try:
            jr_items = get_instrument("KOOS_JR").item_codes
            jr_answers = {c: v for c, v in item_values(answers, "KOOS").items() if c in jr_items}
            scores["KOOS_JR"] = score("KOOS_JR", jr_answers)
        except ValueError:
            pass
    if "OKS" in answers:
        detail = score_detail("OKS", item_values(answers, "OKS"), versions.get("OKS"))
        total = detail.scales["total"]
        scores["OKS"] = detail.scores
        scores["OKS_detail"] = {"imputed": total.imputed and total.score is not None, "missing": total.missing}
    for code in ("VAS", "PGA"):
        if code in answers:
            scores[code] = score(code, item_values(answers, code), versions.get(code))
    return scores


def urgent_answers(answers: dict, versions: dict[str, str]) -> tuple[str, ...]:
    """`INSTRUMENT.ITEM` of every yes to an item its instrument marks urgent, in questionnaire order: the patient
    should get care today. Pure: the answers as stored, with the instrument versions they were given in."""
    found = []
    for code, given in answers.items():
        for item in get_instrument(code, versions.get(code)).items:
            if item.urgent and (given.get(item.code) or {}).get("value") is True:
                found.append(f"{code}.{item.code}")
    return tuple(found)


def emergency_answers(answers: dict, versions: dict[str, str]) -> tuple[str, ...]:
    """The urgent answers whose item says to call emergency services now (chest pain, facial swelling)."""
    found = []
    for code, given in answers.items():
        for item in get_instrument(code, versions.get(code)).items:
            if item.emergency and (given.get(item.code) or {}).get("value") is True:
                found.append(f"{code}.{item.code}")
    return tuple(found)


def draft_values(follow_up: FollowUp, data) -> dict[str, str]:
    """The subset of posted values worth keeping as a draft: known input names, short strings."""
    names = {
        f"{instrument.code}.{item.code}"
        for instrument in instruments_for(follow_up)
        for item in instrument.items_for_product(product_of(follow_up))
    }
    kept = {}
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            kept[name] = _clean_text(str(value))
    return kept


def current_versions() -> dict[str, str]:
    return {code: current_version(code) for code in (*PROMS, "SAFETY", "SAFETY_EARLY", FURTHER)}

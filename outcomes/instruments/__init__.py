"""Instrument definitions as versioned data, and their loader.

Each ``<name>-<version>.json`` file beside this module defines one version of one instrument: its items, the
answer options with their official scoring-key values, and the scoring metadata. The wording in these files is
demo text in our own words (KOOS is copyright, OKS is licensed by Oxford University Innovation; reference
"no item wording reproduced"). A clinic that holds a licence points ``OUTCOMES_WORDING_FILE`` at a JSON file
with the official text. The override replaces text and labels, never scores (see ``wording-example.json``).

Nothing here imports Django at module import time: scoring must stay usable without settings.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

DEFINITIONS_DIR = Path(__file__).resolve().parent
WORDING_SETTING = "OUTCOMES_WORDING_FILE"
LANGUAGE_WORDING_SETTING = "OUTCOMES_WORDING_FILES"

ItemType = Literal["choice", "slider", "yesno", "text", "month"]
Direction = Literal["higher_better", "higher_worse", "none"]
# "month": a calendar month as "YYYY-MM" (when a treatment happened: patients recall months, not days).
ITEM_TYPES: tuple[str, ...] = ("choice", "slider", "yesno", "text", "month")
SCORING_METHODS: tuple[str, ...] = ("koos_subscale", "sum_prorated", "value", "sum_lookup", "none")
DIRECTIONS: tuple[str, ...] = ("higher_better", "higher_worse", "none")


@dataclass(frozen=True)
class Option:
    label: str
    score: int


@dataclass(frozen=True)
class Item:
    code: str
    type: ItemType
    text: str
    required: bool
    section: str
    options: tuple[Option, ...] = ()
    min: int | None = None  # slider bounds
    max: int | None = None
    anchors: tuple[str, ...] = ()  # slider end labels (min end, max end)
    products: tuple[str, ...] = ()  # empty: asked whatever the product
    # A yes means the patient should get care today (the thanks page and an email say so, and the clinic's flag
    # is urgent): the one definition of an urgent answer, read by outcomes and safety alike.
    urgent: bool = False
    # A yes means call emergency services now (chest pain, breathlessness, facial swelling): urgent, and the advice
    # is 999 rather than the clinic.
    emergency: bool = False
    # Code of a yes/no item of the same instrument: this item must be answered when that one is yes, and left
    # empty when it is no ("If yes: which operation?").
    required_if: str = ""

    @property
    def scores(self) -> tuple[int, ...]:
        return tuple(o.score for o in self.options)

    def asked_for(self, product: str | None) -> bool:
        return not self.products or product in self.products


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Scale:
    code: str
    items: tuple[str, ...]
    min_answered: int


@dataclass(frozen=True)
class Scoring:
    method: str
    rule: str
    direction: Direction
    range: tuple[float, float] | None
    scales: tuple[Scale, ...]
    table: tuple[float, ...] = ()  # sum_lookup: score by raw sum

    def scale(self, code: str) -> Scale:
        for s in self.scales:
            if s.code == code:
                return s
        raise ValueError(f"unknown scale {code!r}")


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    name: str
    title: str
    instructions: str
    recall: str
    wording: str  # "demo" in the shipped files; "override" once licensed text is loaded
    wording_source: str  # "demo" or the override file's name
    sections: tuple[Section, ...]
    items: tuple[Item, ...]  # in presentation order
    scoring: Scoring
    source_file: str

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items)

    def item(self, code: str) -> Item:
        for i in self.items:
            if i.code == code:
                return i
        raise ValueError(f"{self.code} item {code!r} is not an item of {self.code}")

    def option_score(self, item_code: str, option_label: str) -> int:
        """Score of the option shown with this label (labels are the loaded wording, demo or override)."""
        item = self.item(item_code)
        for o in item.options:
            if o.label == option_label:
                return o.score
        raise ValueError(f"{self.code} item {item_code!r} has no option labelled {option_label!r}")

    def items_for_product(self, product: str | None) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.asked_for(product))


# --- definitions -------------------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    # "2" < "10" and "2012" < "2018"; letters sort after numbers without comparing int to str.
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[^0-9A-Za-z]+", version) if p)


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ValueError(f"{where}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_item(raw: Mapping[str, Any], section: str, where: str) -> Item:
    code = raw.get("code")
    _require(isinstance(code, str) and bool(code), where, f"item without a code in section {section!r}")
    at = f"{where}: item {code!r}"
    kind = raw.get("type")
    _require(kind in ITEM_TYPES, at, f"type must be one of {', '.join(ITEM_TYPES)}")
    _require(isinstance(raw.get("text"), str), at, "text must be a string")
    _require(isinstance(raw.get("required"), bool), at, "required must be true or false")
    options: tuple[Option, ...] = ()
    lo = hi = None
    if kind == "choice":
        raw_opts = raw.get("options")
        _require(isinstance(raw_opts, list) and len(raw_opts) >= 2, at, "choice items need at least 2 options")
        for o in raw_opts:
            _require(
                isinstance(o, dict) and isinstance(o.get("label"), str) and _is_int(o.get("score")),
                at,
                "each option needs a string label and an integer score",
            )
        options = tuple(Option(o["label"], o["score"]) for o in raw_opts)
        _require(len({o.score for o in options}) == len(options), at, "option scores must be distinct")
        _require(len({o.label for o in options}) == len(options), at, "option labels must be distinct")
    elif kind == "slider":
        lo, hi = raw.get("min"), raw.get("max")
        _require(_is_int(lo) and _is_int(hi) and lo < hi, at, "sliders need integer min < max")
    products = raw.get("products", [])
    _require(
        isinstance(products, list) and all(isinstance(p, str) for p in products),
        at,
        "products must be a list of product codes",
    )
    urgent = raw.get("urgent", False)
    _require(isinstance(urgent, bool), at, "urgent must be true or false")
    _require(not urgent or kind == "yesno", at, "only yes/no items can be urgent (a yes is the urgent answer)")
    emergency = raw.get("emergency", False)
    _require(isinstance(emergency, bool), at, "emergency must be true or false")
    _require(not emergency or urgent, at, "an emergency item must be urgent too")
    anchors = raw.get("anchors", [])
    _require(
        isinstance(anchors, list) and all(isinstance(a, str) for a in anchors), at, "anchors must be a list of strings"
    )
    required_if = raw.get("required_if", "")
    _require(isinstance(required_if, str), at, "required_if must be an item code")
    _require(not (required_if and raw["required"]), at, "an item with required_if must have required false")
    return Item(
        required_if=required_if,
        code=code,
        type=kind,
        text=raw["text"],
        required=raw["required"],
        section=section,
        options=options,
        min=lo,
        max=hi,
        anchors=tuple(anchors),
        products=tuple(products),
        urgent=urgent,
        emergency=emergency,
    )


def _parse_scoring(raw: Mapping[str, Any], items: Mapping[str, Item], where: str) -> Scoring:
    method = raw.get("method")
    _require(method in SCORING_METHODS, where, f"scoring.method must be one of {', '.join(SCORING_METHODS)}")
    _require(raw.get("direction") in DIRECTIONS, where, f"scoring.direction must be one of {', '.join(DIRECTIONS)}")
    scales = []
    for s in raw.get("scales", []):
        code = s.get("code")
        codes = s.get("items", [])
        _require(
            isinstance(code, str) and isinstance(codes, list) and bool(codes),
            where,
            f"scale {code!r} needs a code and a list of items",
        )
        for c in codes:
            _require(c in items, where, f"scale {code!r} lists {c!r}, which is not an item")
            # Scales sum numeric answers, so only choice and slider items can belong to one.
            _require(items[c].type in ("choice", "slider"), where, f"scale {code!r} item {c!r} is not numeric")
        # OKS states its rule as "at most 2 missing"; KOOS as "at least n answered".
        min_answered = len(codes) - s["max_missing"] if "max_missing" in s else s.get("min_answered")
        _require(
            _is_int(min_answered) and 1 <= min_answered <= len(codes),
            where,
            f"scale {code!r} needs min_answered (or max_missing) between 1 and its item count",
        )
        scales.append(Scale(code=code, items=tuple(codes), min_answered=min_answered))
    _require(len({s.code for s in scales}) == len(scales), where, "scale codes must be distinct")
    _require((method == "none") == (not scales), where, "only method 'none' may have no scales")
    table = tuple(raw.get("table", []))
    if method == "sum_lookup":
        for s in scales:
            max_sum = sum(max(items[c].scores) for c in s.items)
            _require(len(table) == max_sum + 1, where, f"table needs {max_sum + 1} entries, one per raw sum")
    rng = raw.get("range")
    return Scoring(
        method=method,
        rule=str(raw.get("rule", "")),
        direction=raw["direction"],
        range=tuple(rng) if rng else None,
        scales=tuple(scales),
        table=table,
    )


def _parse_definition(path: Path) -> Instrument:
    where = path.name
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: invalid JSON ({exc})") from exc
    for key in ("code", "version", "name", "title", "wording", "recall"):
        _require(isinstance(raw.get(key), str) and bool(raw[key]), where, f"{key!r} must be a non-empty string")
    sections: list[Section] = []
    items: list[Item] = []
    for sec in raw.get("sections", []):
        sec_items = [_parse_item(i, sec["code"], where) for i in sec.get("items", [])]
        items.extend(sec_items)
        sections.append(Section(sec["code"], sec.get("title", ""), tuple(i.code for i in sec_items)))
    by_code = {i.code: i for i in items}
    _require(len(by_code) == len(items), where, "item codes must be distinct")
    for i in items:
        if i.required_if:
            parent = by_code.get(i.required_if)
            _require(
                parent is not None and parent.type == "yesno" and parent.required,
                where,
                f"item {i.code!r}: required_if must name a required yes/no item, not {i.required_if!r}",
            )
    _require(bool(items), where, "an instrument needs items")
    return Instrument(
        code=raw["code"],
        version=raw["version"],
        name=raw["name"],
        title=raw["title"],
        instructions=raw.get("instructions", ""),
        recall=raw["recall"],
        wording=raw["wording"],
        wording_source="demo",
        sections=tuple(sections),
        items=tuple(items),
        scoring=_parse_scoring(raw.get("scoring", {}), by_code, where),
        source_file=path.name,
    )


@functools.lru_cache(maxsize=1)
def _definitions() -> dict[tuple[str, str], Instrument]:
    defs: dict[tuple[str, str], Instrument] = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.json")):
        if path.name.startswith("wording"):
            continue  # wording override examples, not definitions
        inst = _parse_definition(path)
        key = (inst.code, inst.version)
        _require(key not in defs, path.name, f"{inst.code} {inst.version} is already defined")
        defs[key] = inst
    return defs


def _versions(code: str) -> list[str]:
    versions = sorted((v for c, v in _definitions() if c == code), key=_version_key)
    if not versions:
        known = ", ".join(sorted({c for c, _ in _definitions()}))
        raise ValueError(f"unknown instrument {code!r} (known: {known})")
    return versions


def current_version(code: str) -> str:
    """Newest version of an instrument: new submissions use it; stored ones keep the version they used."""
    return _versions(code)[-1]


# --- wording override --------------------------------------------------------------------------------------


def _configured_setting(name: str) -> Any:
    """Django setting if settings are set up and the value is set, else the environment variable."""
    try:
        from django.conf import settings  # imported late: scoring works without Django
    except ImportError:
        settings = None
    if settings is not None and (settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE")):
        value = getattr(settings, name, None)
        if value:
            return value
    return os.environ.get(name) or None


def wording_file() -> str | None:
    """Path of the official-wording override in force, if any."""
    value = _configured_setting(WORDING_SETTING)
    return os.fspath(value) if value else None


def _active_language() -> str:
    """The language Django has active (the patient's, on their pages and emails), or English without Django."""
    try:
        from django.utils import translation
    except ImportError:
        return "en"
    return translation.get_language() or "en"


def language_wording_file(language: str | None) -> str | None:
    """The wording file (or folder of files) for a language (OUTCOMES_WORDING_FILES), trying "cy-gb" then "cy".
    None for English and for a language without its own wording, which is asked in English."""
    if not language:
        return None
    files = _configured_setting(LANGUAGE_WORDING_SETTING) or {}
    language = language.lower()
    value = files.get(language) or files.get(language.split("-")[0])
    return os.fspath(value) if value else None


_INSTRUMENT_KEYS = {"version", "title", "instructions", "items", "sections"}
_ITEM_KEYS = {"text", "options", "anchors"}


def _check_override_item(inst: Instrument, code: str, entry: Any, where: str) -> None:
    if code not in inst.item_codes:
        raise ValueError(f"{where}: {inst.code} item {code!r} is not an item of {inst.code} {inst.version}")
    at = f"{where}: {inst.code} item {code!r}"
    _require(isinstance(entry, dict), at, "must be an object with 'text' and/or 'options'")
    unknown = set(entry) - _ITEM_KEYS
    _require(not unknown, at, f"unknown keys {sorted(unknown)}")
    _require(isinstance(entry.get("text", ""), str), at, "text must be a string")
    if "options" in entry:
        item = inst.item(code)
        labels = entry["options"]
        _require(item.type == "choice", at, f"is a {item.type} item and has no options")
        _require(
            isinstance(labels, list) and all(isinstance(x, str) and x for x in labels),
            at,
            "options must be a list of non-empty strings",
        )
        _require(len(labels) == len(item.options), at, f"has {len(labels)} option labels, expected {len(item.options)}")
        _require(len(set(labels)) == len(labels), at, "option labels must be distinct")
    if "anchors" in entry:
        item = inst.item(code)
        anchors = entry["anchors"]
        _require(item.type == "slider", at, f"is a {item.type} item and has no anchors")
        _require(
            isinstance(anchors, list)
            and len(anchors) == len(item.anchors)
            and all(isinstance(a, str) for a in anchors),
            at,
            f"anchors must be a list of {len(item.anchors)} strings",
        )


def _read_wording(path: Path, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{where}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: invalid JSON ({exc})") from exc
    _require(isinstance(raw, dict), where, "must be a JSON object keyed by instrument code")
    return raw


@functools.lru_cache(maxsize=8)
def _load_override(path: str) -> dict[str, dict[str, Any]]:
    """Read and validate the whole file once, so a bad file fails on first use whatever is asked for.

    A folder is read as one file made of every ``*.json`` in it (a file per instrument, as the per-language
    wording ships: ``wording/cy/koos.json``); an instrument given in two of them is an error. A file whose
    ``"_wording"`` is ``"demo"`` keeps its instruments marked as demo wording (the page says so)."""
    where = f"{WORDING_SETTING} {path}"
    if Path(path).is_dir():
        files = sorted(Path(path).glob("*.json"))
        _require(bool(files), where, "folder has no .json wording files")
    else:
        files = [Path(path)]
    raw: dict[str, Any] = {}
    demo: set[str] = set()
    for file in files:
        part = _read_wording(file, f"{where}" if file == Path(path) else f"{where}/{file.name}")
        for code, block in part.items():
            if code.startswith("_"):
                continue
            _require(code not in raw, where, f"{code} is given in more than one file")
            raw[code] = block
            if part.get("_wording") == "demo":
                demo.add(code)
    blocks: dict[str, dict[str, Any]] = {}
    for code, block in raw.items():
        known = {c for c, _ in _definitions()}
        _require(code in known, where, f"unknown instrument {code!r}")
        _require(isinstance(block, dict), where, f"{code} must be an object")
        unknown = set(block) - _INSTRUMENT_KEYS
        _require(not unknown, where, f"{code}: unknown keys {sorted(unknown)}")
        for key in ("title", "instructions"):
            _require(isinstance(block.get(key, ""), str), where, f"{code}: {key} must be a string")
        versions = _versions(code)
        if "version" in block:
            _require(block["version"] in versions, where, f"{code}: unknown version {block['version']!r}")
            versions = [block["version"]]
        items = block.get("items", {})
        _require(isinstance(items, dict), where, f"{code}: items must be an object keyed by item code")
        for version in versions:  # a block without a version must fit every version it applies to
            inst = _definitions()[(code, version)]
            for item_code, entry in items.items():
                _check_override_item(inst, item_code, entry, where)
        sections = block.get("sections", {})
        _require(
            isinstance(sections, dict) and all(isinstance(t, str) for t in sections.values()),
            where,
            f"{code}: sections must be an object of section code to title",
        )
        blocks[code] = {**block, "_demo": code in demo}
    return blocks


def _apply_override(inst: Instrument, block: Mapping[str, Any], source: str) -> Instrument:
    texts: Mapping[str, Mapping[str, Any]] = block.get("items", {})
    items = []
    for item in inst.items:
        entry = texts.get(item.code)
        if entry is None:
            items.append(item)
            continue
        # Labels are replaced by position; each option keeps the score of the definition.
        options = item.options
        if "options" in entry:
            options = tuple(Option(label, o.score) for label, o in zip(entry["options"], item.options, strict=True))
        anchors = tuple(entry.get("anchors", item.anchors))
        items.append(replace(item, text=entry.get("text", item.text), options=options, anchors=anchors))
    section_titles: Mapping[str, str] = block.get("sections", {})
    demo = block.get("_demo", False)
    return replace(
        inst,
        items=tuple(items),
        sections=tuple(replace(sec, title=section_titles.get(sec.code, sec.title)) for sec in inst.sections),
        title=block.get("title", inst.title),
        instructions=block.get("instructions", inst.instructions),
        # Demo wording in another language is still demo wording: the page keeps its note.
        wording="demo" if demo else "override",
        wording_source=f"demo ({source})" if demo else source,
    )


@functools.lru_cache(maxsize=64)
def _instrument(code: str, version: str, wording_path: str | None, language_path: str | None = None) -> Instrument:
    inst = _definitions()[(code, version)]
    # The licensed English first, then the language's wording over it: an item the translation lacks is asked in
    # English rather than not at all. Only text changes; options keep the definition's scores and order.
    for path in (wording_path, language_path):
        if path:
            block = _load_override(path).get(code)
            if block is not None and block.get("version", version) == version:
                inst = _apply_override(inst, block, Path(path).name)
    return inst


# --- public API --------------------------------------------------------------------------------------------


def get_instrument(code: str, version: str | None = None, language: str | None = None) -> Instrument:
    """The instrument definition, with the official wording applied when OUTCOMES_WORDING_FILE is set, in
    `language` (default: the active one) where OUTCOMES_WORDING_FILES has wording for it. Scores never depend
    on the language: options keep the definition's values."""
    versions = _versions(code)
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ValueError(f"unknown version {version!r} of {code} (known: {', '.join(versions)})")
    # The wording paths are part of the cache key, so changing a setting takes effect without a restart.
    return _instrument(code, version, wording_file(), language_wording_file(language or _active_language()))


def all_instruments() -> list[Instrument]:
    """Every version of every instrument, by code then version."""
    keys = sorted(_definitions(), key=lambda k: (k[0], _version_key(k[1])))
    return [get_instrument(code, version) for code, version in keys]


def clear_cache() -> None:
    """Forget loaded definitions and wording files (after editing a file in place)."""
    _definitions.cache_clear()
    _load_override.cache_clear()
    _instrument.cache_clear()


__all__ = [
    "Instrument",
    "Item",
    "Option",
    "Scale",
    "Scoring",
    "Section",
    "all_instruments",
    "clear_cache",
    "current_version",
    "get_instrument",
    "language_wording_file",
    "wording_file",
]

"""Instrument definitions and the official-wording override."""

import json
import shutil

import pytest

import outcomes.instruments as instruments
from outcomes.instruments import all_instruments, current_version, get_instrument
from outcomes.scoring import score

EXAMPLE = instruments.DEFINITIONS_DIR / "wording-example.json"
KOOS_ITEMS = (
    [f"S{i}" for i in range(1, 8)]
    + [f"P{i}" for i in range(1, 10)]
    + [f"A{i}" for i in range(1, 18)]
    + [f"SP{i}" for i in range(1, 6)]
    + [f"Q{i}" for i in range(1, 5)]
)


@pytest.fixture(autouse=True)
def no_wording_override(monkeypatch, settings):
    monkeypatch.delenv("OUTCOMES_WORDING_FILE", raising=False)
    settings.OUTCOMES_WORDING_FILE = None


def use_wording(monkeypatch, path):
    monkeypatch.setenv("OUTCOMES_WORDING_FILE", str(path))


def write_json(tmp_path, data, name="wording.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- definitions ---------------------------------------------------------------------------------------------


def test_all_instruments_load():
    codes = {(i.code, i.version) for i in all_instruments()}
    assert codes == {
        ("KOOS", "2012"),
        ("KOOS_JR", "1"),
        ("OKS", "2018"),
        ("VAS", "1"),
        ("PGA", "1"),
        ("SAFETY", "1"),
        ("SAFETY_EARLY", "1"),
    }
    assert current_version("KOOS") == "2012"
    assert current_version("OKS") == "2018"


def test_every_shipped_definition_is_marked_demo_wording():
    for path in instruments.DEFINITIONS_DIR.glob("*.json"):
        if path.name.startswith("wording"):
            continue
        assert json.loads(path.read_text())["wording"] == "demo", path.name
    assert {i.wording_source for i in all_instruments()} == {"demo"}


def test_koos_structure():
    koos = get_instrument("KOOS")
    assert sorted(koos.item_codes) == sorted(KOOS_ITEMS)
    assert koos.recall == "last week"
    scales = {s.code: (len(s.items), s.min_answered) for s in koos.scoring.scales}
    # 2012 rule: at least half of each subscale's items (reference 1.1)
    assert scales == {"pain": (9, 5), "symptoms": (7, 4), "adl": (17, 9), "sport_rec": (5, 3), "qol": (4, 2)}
    assert koos.scoring.direction == "higher_better"
    for item in koos.items:
        assert item.type == "choice"
        assert sorted(item.scores) == [0, 1, 2, 3, 4]


def test_koos_s4_s5_options_listed_in_opposite_order():
    koos = get_instrument("KOOS")
    s1 = [(o.label, o.score) for o in koos.item("S1").options]
    s4 = [(o.label, o.score) for o in koos.item("S4").options]
    assert s1[0] == ("Never", 0)
    assert s1[-1] == ("Always", 4)
    assert s4[0] == ("Always", 0)
    assert s4[-1] == ("Never", 4)
    assert koos.item("S5").options == koos.item("S4").options


def test_oks_structure():
    oks = get_instrument("OKS")
    assert oks.item_codes == tuple(f"Q{i}" for i in range(1, 13))
    assert oks.recall == "past 4 weeks"
    assert oks.scoring.scales[0].min_answered == 10  # max 2 missing
    assert oks.scoring.range == (0, 48)


def test_vas_and_pga_are_0_100_sliders_higher_worse():
    for code, item_code in (("VAS", "pain"), ("PGA", "global")):
        inst = get_instrument(code)
        item = inst.item(item_code)
        assert (item.type, item.min, item.max, item.required) == ("slider", 0, 100, True)
        assert inst.scoring.direction == "higher_worse"


def test_safety_harvest_question_only_for_bmac():
    safety = get_instrument("SAFETY")
    assert safety.item("harvest_site_problem").products == ("bmac",)
    assert "harvest_site_problem" in {i.code for i in safety.items_for_product("bmac")}
    assert "harvest_site_problem" not in {i.code for i in safety.items_for_product("prp")}
    assert "fever" in {i.code for i in safety.items_for_product("prp")}
    other = safety.item("other")
    assert (other.type, other.required) == ("text", False)


def test_item_lookup_errors():
    koos = get_instrument("KOOS")
    with pytest.raises(ValueError, match=r"KOOS item 'X1' is not an item of KOOS"):
        koos.item("X1")
    with pytest.raises(ValueError, match=r"KOOS item 'S4' has no option labelled 'Sometimes not'"):
        koos.option_score("S4", "Sometimes not")


def test_definitions_are_cached():
    assert get_instrument("KOOS") is get_instrument("KOOS", "2012")


def test_bad_definition_fails_loudly(tmp_path, monkeypatch):
    bad = json.loads((instruments.DEFINITIONS_DIR / "vas-pain-1.json").read_text())
    bad["scoring"]["scales"][0]["items"] = ["pain", "itch"]
    write_json(tmp_path, bad, "vas-pain-1.json")
    monkeypatch.setattr(instruments, "DEFINITIONS_DIR", tmp_path)
    instruments.clear_cache()
    try:
        with pytest.raises(ValueError, match=r"vas-pain-1.json: scale 'pain' lists 'itch', which is not an item"):
            get_instrument("VAS")
    finally:
        monkeypatch.undo()
        instruments.clear_cache()


# --- official wording override -------------------------------------------------------------------------------


def test_example_wording_file_replaces_text_and_labels(monkeypatch):
    use_wording(monkeypatch, EXAMPLE)
    koos = get_instrument("KOOS")
    assert koos.wording_source == "wording-example.json"
    assert koos.wording == "override"
    assert koos.title == "<official KOOS title>"
    assert koos.item("P1").text == "<official text for P1>"
    assert koos.item("S4").options[0].label == "<official label 1 for S4>"
    # Scores stay those of the definition: the first S4 box still scores 0, the first OKS box 4.
    assert koos.option_score("S4", "<official label 1 for S4>") == 0
    assert koos.option_score("S1", "<official label 5 for S1>") == 4
    assert get_instrument("OKS").option_score("Q1", "<official label 1 for Q1>") == 4
    # Instruments absent from the file keep the demo wording.
    assert get_instrument("VAS").wording_source == "demo"


def test_wording_override_via_django_setting(settings):
    settings.OUTCOMES_WORDING_FILE = str(EXAMPLE)
    assert get_instrument("OKS").wording_source == "wording-example.json"
    settings.OUTCOMES_WORDING_FILE = None
    assert get_instrument("OKS").wording_source == "demo"


def test_scores_never_change_with_wording(monkeypatch):
    answers = {code: (n % 5) for n, code in enumerate(KOOS_ITEMS)}
    oks_answers = {f"Q{i}": i % 5 for i in range(1, 12)}
    demo = get_instrument("KOOS")
    before = (score("KOOS", answers), score("OKS", oks_answers))

    use_wording(monkeypatch, EXAMPLE)
    official = get_instrument("KOOS")
    assert official is not demo
    assert (score("KOOS", answers), score("OKS", oks_answers)) == before
    for item_demo, item_official in zip(demo.items, official.items, strict=True):
        assert item_demo.code == item_official.code
        assert item_demo.scores == item_official.scores
    assert demo.scoring == official.scoring


def test_partial_override_keeps_demo_text_elsewhere(tmp_path, monkeypatch):
    use_wording(monkeypatch, write_json(tmp_path, {"KOOS": {"items": {"P1": {"text": "Licensed P1"}}}}))
    koos = get_instrument("KOOS")
    assert koos.item("P1").text == "Licensed P1"
    assert koos.item("P1").options == get_instrument("KOOS").item("P1").options  # labels untouched
    assert koos.item("P2").text != "Licensed P1"
    assert koos.wording_source == "wording.json"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"WOMAC": {"items": {}}}, r"unknown instrument 'WOMAC'"),
        ({"KOOS": {"items": {"P10": {"text": "x"}}}}, r"KOOS item 'P10' is not an item of KOOS 2012"),
        (
            {"KOOS": {"items": {"P1": {"options": ["a", "b", "c", "d"]}}}},
            r"KOOS item 'P1': has 4 option labels, expected 5",
        ),
        (
            {"OKS": {"items": {"Q3": {"options": ["a", "b", "c", "d", "e", "f"]}}}},
            r"OKS item 'Q3': has 6 option labels, expected 5",
        ),
        ({"VAS": {"items": {"pain": {"options": ["low", "high"]}}}}, r"VAS item 'pain': is a slider item"),
        ({"KOOS": {"items": {"P1": {"txt": "typo"}}}}, r"KOOS item 'P1': unknown keys \['txt'\]"),
        ({"KOOS": {"items": {"P1": {"options": ["a", "a", "b", "c", "d"]}}}}, r"KOOS item 'P1': option labels"),
        ({"KOOS": {"version": "1998", "items": {}}}, r"KOOS: unknown version '1998'"),
        ({"KOOS": {"titel": "typo"}}, r"KOOS: unknown keys \['titel'\]"),
        (["KOOS"], r"must be a JSON object"),
    ],
)
def test_bad_wording_file_raises_naming_the_problem(tmp_path, monkeypatch, data, message):
    use_wording(monkeypatch, write_json(tmp_path, data))
    # The whole file is checked on first use, whichever instrument is asked for.
    with pytest.raises(ValueError, match=message):
        get_instrument("PGA")


def test_wording_file_not_json(tmp_path, monkeypatch):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    use_wording(monkeypatch, path)
    with pytest.raises(ValueError, match=r"broken\.json: invalid JSON"):
        get_instrument("KOOS")


def test_wording_file_missing(tmp_path, monkeypatch):
    use_wording(monkeypatch, tmp_path / "nowhere.json")
    with pytest.raises(ValueError, match=r"nowhere\.json: file not found"):
        get_instrument("KOOS")


def test_example_file_is_a_complete_template(tmp_path):
    # Every KOOS and OKS item appears with the right number of option placeholders.
    example = json.loads(EXAMPLE.read_text())
    for code in ("KOOS", "OKS"):
        inst = get_instrument(code)
        assert set(example[code]["items"]) == set(inst.item_codes)
        for item in inst.items:
            assert len(example[code]["items"][item.code]["options"]) == len(item.options)
    # A copy under another name is reported under that name.
    copy = tmp_path / "clinic-licence.json"
    shutil.copy(EXAMPLE, copy)
    assert instruments._instrument("KOOS", "2012", str(copy)).wording_source == "clinic-licence.json"

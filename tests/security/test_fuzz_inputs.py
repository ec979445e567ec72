"""Hostile input to the patient's questionnaire form and to the score endpoint (hypothesis): wrong types, NUL
bytes, odd unicode, huge values and payloads, unknown and missing fields. Every case gets a 4xx and nothing
stored changes (row counts of every outcomes/registry/safety table before and after)."""

import json

import pytest
from django.apps import apps
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.answers import answers_for
from tests.support.journeys import q_url

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# "" is not hostile: it is an item left unanswered, which the instruments' missing-item rules allow.
BAD_SCALARS = st.one_of(
    st.just("\x00"),
    st.text(alphabet=st.characters(blacklist_categories=["Nd", "Cs"]), min_size=1, max_size=20).map(lambda s: "x" + s),
    st.sampled_from(["-1", "999", "1e309", "NaN", "Infinity", "3.5", "٣", "１", "0x1", "[1]", "{}", "null", "true"]),
    st.integers(min_value=10**6, max_value=10**30).map(str),
    st.text(min_size=1, max_size=5).map(lambda s: s + "\x00"),
    st.just("A" * 100_000),
)


def stored_counts() -> dict[str, int]:
    labels = ("registry", "outcomes", "safety", "notifications")
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_label in labels and not m._meta.proxy
    }


def snapshot(follow_up) -> tuple:
    follow_up.refresh_from_db()
    return stored_counts(), follow_up.status


@given(data=st.data())
@FUZZ
def test_hostile_questionnaire_posts_get_400_and_store_nothing(token, baseline, data):
    client = Client(raise_request_exception=False)
    valid = answers_for(baseline)
    names = sorted(valid)
    post = dict(valid)
    # At least one answer is made invalid; some others may be dropped, and unknown fields added.
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True)):
        post[name] = data.draw(BAD_SCALARS)
    for name in data.draw(st.lists(st.sampled_from(names), max_size=5, unique=True)):
        if post[name] == valid[name]:
            del post[name]
    post.update(data.draw(st.dictionaries(st.text(min_size=1, max_size=30), BAD_SCALARS, max_size=3)))
    before = snapshot(baseline)
    response = client.post(q_url(token), post)
    assert 400 <= response.status_code < 500, response.status_code
    assert snapshot(baseline) == before


@pytest.mark.parametrize(
    "payload",
    [
        {},  # nothing answered
        {f"junk{i}": "1" for i in range(1200)},  # more fields than Django accepts
        {"KOOS.P1": "1" * 3_000_000},  # bigger than DATA_UPLOAD_MAX_MEMORY_SIZE
    ],
    ids=["empty", "too-many-fields", "too-big"],
)
def test_empty_and_oversized_questionnaire_posts(token, baseline, payload):
    client = Client(raise_request_exception=False)
    before = snapshot(baseline)
    response = client.post(q_url(token), payload)
    assert 400 <= response.status_code < 500
    assert snapshot(baseline) == before


JSON_JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=30), st.integers()),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
BAD_ANSWER = st.one_of(
    st.text(min_size=1, max_size=10).filter(lambda s: not s.strip().lstrip("-").isdigit()),
    st.integers(min_value=5, max_value=10**20),
    st.integers(max_value=-1),
    st.lists(st.integers(0, 4), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    st.just("\x00"),
    st.just(True),
)


@given(data=st.data())
@FUZZ
def test_hostile_score_requests_get_400_and_store_nothing(api_as, clinician, data):
    api = api_as(clinician)
    kind = data.draw(st.sampled_from(["bad-answer", "unknown-item", "wrong-shape", "missing", "junk-json"]))
    if kind == "bad-answer":
        body = {"answers": {data.draw(st.sampled_from(["P1", "S1", "Q1", "A1"])): data.draw(BAD_ANSWER)}}
    elif kind == "unknown-item":
        body = {"answers": {data.draw(st.text(min_size=1, max_size=40).filter(lambda s: s not in {"P1"})) + "\x00": 1}}
    elif kind == "wrong-shape":
        body = {"answers": data.draw(st.one_of(st.lists(st.integers()), st.text(), st.integers(), st.none()))}
    elif kind == "missing":
        body = data.draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "answers"), JSON_JUNK, max_size=3))
    else:
        body = data.draw(JSON_JUNK.filter(lambda v: not isinstance(v, dict)))
    before = stored_counts()
    response = api.post("/api/v1/instruments/KOOS/score/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, (body, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert stored_counts() == before


def test_score_request_that_is_not_json_or_too_big(api_as, clinician):
    api = api_as(clinician)
    before = stored_counts()
    assert api.post("/api/v1/instruments/KOOS/score/", b"\xff\xfe{", content_type="application/json").status_code == 400
    huge = json.dumps({"answers": {f"X{i}": 1 for i in range(300_000)}})
    assert 400 <= api.post("/api/v1/instruments/KOOS/score/", huge, content_type="application/json").status_code < 500
    assert stored_counts() == before

"""Scores worse than baseline (VAS +20 mm, KOOS Pain -10, OKS -5) are worsening signals: efficacy, not safety. They
are listed and counted apart from safety flags everywhere (issue 15); the urgent combinations stay safety flags."""

import datetime as dt

import pytest
from django.utils import timezone

from notifications.services.sweep import _non_urgent_flag_counts
from outcomes.analysis.trajectory import patient_trajectory
from outcomes.thresholds import DEFAULTS
from safety.choices import SAFETY_FLAG_RULES, WORSENING_SIGNAL_RULES, FlagKind, FlagRule, flag_kind
from safety.models import Flag
from safety.services import flag_raise

pytestmark = pytest.mark.django_db


def test_every_rule_is_of_exactly_one_kind():
    assert {str(r) for r in WORSENING_SIGNAL_RULES} == {"vas_worse", "koos_pain_worse", "oks_worse"}
    assert set(FlagRule.values) == SAFETY_FLAG_RULES | WORSENING_SIGNAL_RULES
    assert not SAFETY_FLAG_RULES & WORSENING_SIGNAL_RULES
    # Red flags from combinations and single urgent answers stay safety flags.
    assert flag_kind(FlagRule.SWELLING_WITH_PAIN_WORSE) == FlagKind.SAFETY
    assert flag_kind(FlagRule.SAFETY_UNABLE_TO_BEAR_WEIGHT) == FlagKind.SAFETY
    assert flag_kind(FlagRule.VAS_WORSE) == FlagKind.WORSENING


def test_each_worsening_threshold_states_its_source():
    # The source names what the size rests on: a meaningful change (MCID/MIC/MCII) or the detectable change (MDC).
    assert "Tubach" in DEFAULTS["deterioration.vas.pain"].source
    assert "Roos" in DEFAULTS["deterioration.koos.pain"].source
    assert "MDC90" in DEFAULTS["deterioration.oks.total"].source
    assert (DEFAULTS["deterioration.vas.pain"].value, DEFAULTS["deterioration.oks.total"].value) == (20.0, 5.0)


@pytest.fixture
def both(journey):
    """One questionnaire that raised a safety flag (swelling) and a worsening signal (VAS worse)."""
    submission = journey().one_month(**{"SAFETY.swelling": "yes"})
    safety, _ = flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    worse, _ = flag_raise(submission=submission, rule=FlagRule.VAS_WORSE, urgent=False, values={})
    return safety, worse


def test_querysets_split_by_kind(both):
    safety, worse = both
    assert list(Flag.objects.safety()) == [safety]
    assert list(Flag.objects.worsening_signals()) == [worse]
    assert (safety.kind, worse.kind) == ("safety", "worsening")
    assert worse.is_worsening_signal
    assert worse.get_kind_display() == "Worsening signal"


def test_attention_page_lists_them_in_separate_sections(client, clinician, both):
    safety, worse = both
    client.force_login(clinician)
    html = client.get("/attention/").content.decode()
    flags_section = html[html.index('id="flags"') : html.index('id="worsening"')]
    worsening_section = html[html.index('id="worsening"') : html.index('id="events"')]
    assert f"/flags/{safety.pk}/" in flags_section
    assert f"/flags/{worse.pk}/" not in flags_section
    assert f"/flags/{worse.pk}/" in worsening_section
    assert "efficacy, not safety" in html


def test_the_inbox_shows_one_kind_at_a_time(client, clinician, both):
    safety, worse = both
    client.force_login(clinician)
    html = client.get("/flags/").content.decode()
    assert f"/flags/{safety.pk}/" in html
    assert f"/flags/{worse.pk}/" not in html
    html = client.get("/flags/?kind=worsening").content.decode()
    assert f"/flags/{worse.pk}/" in html
    assert f"/flags/{safety.pk}/" not in html
    assert "<h1>Worsening signals</h1>" in html


def test_the_patient_page_keeps_them_apart(both):
    safety, _ = both
    [knee] = patient_trajectory(safety.patient)["knees"]
    assert (knee["safety_flags"], knee["worsening_signals"]) == (1, 1)
    assert [f["worsening"] for f in knee["flags"]] == [False, True]


def test_the_daily_digest_counts_safety_flags_only(both):
    safety, _ = both
    counts = _non_urgent_flag_counts(timezone.now() - dt.timedelta(days=1))
    assert counts == {safety.clinic_id: 1}


def test_the_api_names_the_kind_and_filters_by_it(api_as, clinician, both):
    safety, worse = both
    client = api_as(clinician)
    rows = client.get("/api/v1/flags/").json()["results"]
    assert {r["id"]: r["kind"] for r in rows} == {safety.pk: "safety", worse.pk: "worsening"}
    rows = client.get("/api/v1/flags/", {"kind": "worsening"}).json()["results"]
    assert [r["id"] for r in rows] == [worse.pk]

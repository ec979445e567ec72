"""12- and 24-month follow-ups: which plans get them (FOLLOW_UP_TIMEPOINTS_BY_PRODUCT, checked at start-up), their
windows, the questionnaire they ask, and adding them to plans scheduled before they existed."""

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from outcomes import questionnaire
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.schedule import check_timepoints_by_product, timepoints_for, windows
from outcomes.services import follow_ups_add_later
from registry.services import patient_withdraw_consent
from tests.factories import PatientFactory, make_injection
from tests.support.clock import travel_to

D = dt.date
PRP_PROTOCOL = {"leukocytes": "poor", "spins": 2, "activation": "none"}


def timepoints(injection) -> list[str]:
    return list(FollowUp.objects.filter(plan=injection.plan).values_list("timepoint", flat=True))


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ("bmac", ["baseline", "1m", "6m", "12m", "24m"]),
        ("adsc", ["baseline", "1m", "6m", "12m", "24m"]),
        ("exosome", ["baseline", "1m", "6m", "12m", "24m"]),
        ("prp", ["baseline", "1m", "6m", "12m"]),
        ("ha", ["baseline", "1m", "6m", "12m"]),
        ("corticosteroid", ["baseline", "1m", "6m", "12m"]),
        ("saline", ["baseline", "1m", "6m", "12m"]),
    ],
)
def test_cell_and_vesicle_products_are_followed_to_24_months_the_rest_to_12(product, expected):
    found = windows(injected_on=D(2026, 3, 2), recorded_on=D(2026, 3, 1), product=product, safety_checks=False)
    assert [w.timepoint for w in found] == expected


def test_a_recorded_prp_injection_schedules_to_12_months(clock, patient, clinician):
    injection = make_injection(patient, clinician, product="prp", protocol=PRP_PROTOCOL)
    assert timepoints(injection) == ["baseline", "d3", "d12", "1m", "6m", "12m"]
    assert FollowUp.objects.get(plan=injection.plan, timepoint="12m").due_on == D(2027, 3, 2)


def test_a_product_may_be_given_other_timepoints_in_the_one_setting(settings, clock, patient, clinician):
    settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT = {"default": ["1m", "6m"], "prp": ["24m", "1m", "6m", "12m"]}
    assert timepoints_for("prp") == ("1m", "6m", "12m", "24m")  # in time order, however listed
    assert timepoints_for("ha") == ("1m", "6m")
    injection = make_injection(patient, clinician, product="prp", protocol=PRP_PROTOCOL)
    assert timepoints(injection) == ["baseline", "d3", "d12", "1m", "6m", "12m", "24m"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"prp": ["1m"]}, 'a "default" entry'),
        ([], 'a "default" entry'),
        ({"default": ["1m"], "prpp": ["1m"]}, "'prpp' is not a product"),
        ({"default": ["1m", "3y"]}, "must list distinct follow-ups from 1m, 6m, 12m, 24m"),
        ({"default": []}, "must list distinct follow-ups"),
        ({"default": ["1m", "1m"]}, "must list distinct follow-ups"),
        ({"default": "1m 6m"}, "must list distinct follow-ups"),
    ],
)
def test_a_malformed_setting_stops_start_up_with_the_entry_named(config, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        check_timepoints_by_product(config)


def test_the_app_checks_the_setting_when_it_starts(settings):
    from django.apps import apps

    settings.FOLLOW_UP_TIMEPOINTS_BY_PRODUCT = {"default": ["5m"]}
    with pytest.raises(ImproperlyConfigured, match="5m"):
        apps.get_app_config("outcomes").ready()


def test_later_windows_follow_the_six_month_rule(clock, recorded):
    by_timepoint = {fu.timepoint: fu for fu in FollowUp.objects.filter(plan=recorded.plan)}
    for timepoint in (Timepoint.SIX_MONTHS, Timepoint.TWELVE_MONTHS, Timepoint.TWENTY_FOUR_MONTHS):
        fu = by_timepoint[timepoint]
        assert (fu.due_on - fu.opens_on, fu.closes_on - fu.due_on) == (dt.timedelta(days=3), dt.timedelta(days=21))
        assert fu.status == FollowUpStatus.SCHEDULED


def test_later_follow_ups_ask_the_scores_safety_and_further_treatment(clock, recorded):
    twelve = FollowUp.objects.get(plan=recorded.plan, timepoint=Timepoint.TWELVE_MONTHS)
    codes = [i.code for i in questionnaire.instruments_for(twelve)]
    assert codes == ["KOOS", "OKS", "VAS", "PGA", "FURTHER", "SAFETY"]  # the safety questions last
    baseline = FollowUp.objects.get(plan=recorded.plan, timepoint=Timepoint.BASELINE)
    assert "FURTHER" not in [i.code for i in questionnaire.instruments_for(baseline)]


def test_the_twelve_month_page_says_a_year(client, clock, recorded):
    from outcomes.services import link_create

    twelve = FollowUp.objects.get(plan=recorded.plan, timepoint=Timepoint.TWELVE_MONTHS)
    with travel_to(twelve.due_on):
        html = client.get(f"/q/{link_create(follow_up=twelve)}/").content.decode()
    assert "About a year after your injection" in html
    assert 'name="FURTHER.surgery_month"' in html
    assert 'type="month"' in html


# --- Plans scheduled before the later timepoints existed -------------------------------------------------------


def _as_before(injection, *, keep=("baseline", "1m", "6m")):
    """The plan as an older registry scheduled it: no 12- or 24-month follow-up."""
    FollowUp.objects.filter(plan=injection.plan).exclude(timepoint__in=keep).delete()


def test_existing_plans_get_the_later_follow_ups_still_ahead_and_nothing_else_changes(clinic, clinician):
    with travel_to(D(2025, 1, 10)):
        old = make_injection(PatientFactory(clinic=clinic), clinician, injected_on=D(2025, 1, 10))  # BMAC
    with travel_to(D(2026, 1, 5)):
        recent = make_injection(
            PatientFactory(clinic=clinic), clinician, product="prp", protocol=PRP_PROTOCOL, injected_on=D(2026, 1, 5)
        )
    _as_before(old)
    _as_before(recent)
    before = {fu.pk: (fu.status, fu.due_on) for fu in FollowUp.objects.all()}

    with travel_to(D(2026, 2, 1)):
        added = follow_ups_add_later()

    # Old BMAC plan: its 12-month window closed on 31 Jan 2026 (never created as missed); 24 months still ahead.
    # Recent PRP plan: 12 months ahead; PRP gets no 24 months.
    assert sorted((fu.plan_id, fu.timepoint) for fu in added) == sorted([(old.plan_id, "24m"), (recent.plan_id, "12m")])
    assert all(fu.status == FollowUpStatus.SCHEDULED for fu in added)
    assert FollowUp.objects.get(plan=old.plan, timepoint="24m").due_on == D(2027, 1, 10)
    assert {fu.pk: (fu.status, fu.due_on) for fu in FollowUp.objects.filter(pk__in=before)} == before
    history = FollowUp.history.filter(id=added[0].pk).values_list("history_change_reason", flat=True)
    assert list(history) == ["Added: a later timepoint for this product"]
    with travel_to(D(2026, 2, 1)):
        assert follow_ups_add_later() == []  # idempotent


def test_patients_who_withdrew_get_no_new_follow_ups(clinic, clinician):
    patient = PatientFactory(clinic=clinic)
    with travel_to(D(2026, 1, 5)):
        injection = make_injection(patient, clinician, injected_on=D(2026, 1, 5))
    _as_before(injection)
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason="Moved away")
    with travel_to(D(2026, 2, 1)):
        assert follow_ups_add_later() == []


def test_the_command_reports_and_dry_run_adds_nothing(clinic, clinician):
    with travel_to(D(2026, 1, 5)):
        injection = make_injection(PatientFactory(clinic=clinic), clinician, injected_on=D(2026, 1, 5))
    _as_before(injection)
    out = StringIO()
    with travel_to(D(2026, 2, 1)):
        call_command("add_later_follow_ups", "--dry-run", stdout=out)
        assert "Would add 2 follow-ups (12 months: 1, 24 months: 1)" in out.getvalue()
        assert not FollowUp.objects.filter(timepoint__in=["12m", "24m"]).exists()
        call_command("add_later_follow_ups", stdout=out)
    assert "Added 2 follow-ups" in out.getvalue()
    assert FollowUp.objects.filter(plan=injection.plan, timepoint__in=["12m", "24m"]).count() == 2

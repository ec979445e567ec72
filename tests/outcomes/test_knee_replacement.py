"""The "Time to knee replacement" page and its CSV: one row per plan read from the registry (event or censoring at
the last contact), the Kaplan-Meier table by product with numbers at risk, small groups withheld, scoped to the
user's clinics, in a fixed number of queries."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from lifelines import KaplanMeierFitter

from outcomes.analysis.cohort import cohort
from outcomes.analysis.survival import DAYS_PER_MONTH, arthroplasty_rows
from outcomes.further_treatments import further_treatment_record
from outcomes.models import FurtherTreatment
from tests.outcomes.analysis_data import make_plan

D = dt.date
INJECTED = D(2026, 3, 2)  # the factories' injection day
PAGE = reverse("outcomes:knee-replacement")
CSV = reverse("outcomes:knee-replacement-csv")
PRP_PROTOCOL = {"leukocytes": "poor", "spins": 2, "activation": "none"}


def months(day: dt.date) -> float:
    return (day - INJECTED).days / DAYS_PER_MONTH


def replaced(plan, month: dt.date, kind="total_knee_replacement"):
    return FurtherTreatment.objects.create(
        patient=plan.patient, plan=plan, knee=plan.knee, kind=kind, month=month, reported_by_patient=True
    )


def registry(clinic, clinician, *, followed=11, product="bmac", **extra):
    """`followed` plans answering at 12 months (due 2 Mar 2027) and one whose knee was replaced in August 2026."""
    plans = [
        make_plan(clinic, clinician, product=product, scores={"12m": {"pain": 60}}, **extra) for _ in range(followed)
    ]
    event = make_plan(clinic, clinician, product=product, scores={"6m": {"pain": 30}}, **extra)
    replaced(event, D(2026, 8, 1))
    return plans, event


def test_one_row_per_plan_with_its_event_or_its_last_contact(clinic, clinician):
    answered_1m = make_plan(clinic, clinician, scores={"baseline": {"pain": 40}, "1m": {"pain": 50}})
    never = make_plan(clinic, clinician, scores={"baseline": {"pain": 40}})  # baseline is not a contact after it
    letter = make_plan(clinic, clinician, scores={"1m": {"pain": 50}})
    further_treatment_record(
        plan=letter, kind="arthroscopy", month=D(2026, 5, 1), by=clinician, on=D(2026, 6, 10)
    )  # a clinic record is a contact: censored there, not at the 1-month answer
    on_the_day = make_plan(clinic, clinician, scores={"6m": {"pain": 20}})
    FurtherTreatment.objects.create(
        patient=on_the_day.patient,
        plan=on_the_day,
        knee="left",
        kind="partial_knee_replacement",
        month=D(2026, 7, 1),
        day=D(2026, 7, 9),
        recorded_by_clinic=True,
        recorded_on=D(2026, 7, 20),
    )
    mid_month = make_plan(clinic, clinician, scores={"1m": {"pain": 50}})
    replaced(mid_month, D(2026, 10, 1))  # reported later than the last answer: the event wins

    rows = {r.plan_id: (r.months, r.arthroplasty) for r in arthroplasty_rows(cohort(clinician))}
    assert rows[answered_1m.pk] == (pytest.approx(months(D(2026, 4, 2))), False)
    assert rows[never.pk] == (0.0, False)
    assert rows[letter.pk] == (pytest.approx(months(D(2026, 6, 10))), False)
    assert rows[on_the_day.pk] == (pytest.approx(months(D(2026, 7, 9))), True)  # the day, when known
    assert rows[mid_month.pk] == (pytest.approx(months(D(2026, 10, 15))), True)  # else mid-month


def test_the_page_shows_survival_with_its_interval_and_numbers_at_risk(client, clinic, clinician):
    registry(clinic, clinician)
    client.force_login(clinician)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    # 12 BMAC plans: one replacement at about 5.4 months; the rest followed to just under 12 months.
    kmf = KaplanMeierFitter().fit([months(D(2027, 3, 2))] * 11 + [months(D(2026, 8, 15))], [0] * 11 + [1])
    low, high = (100 * v for v in kmf.confidence_interval_.loc[months(D(2026, 8, 15))])
    assert "100.0%" in html  # at 0 months, 12 at risk
    assert "12 at risk" in html
    assert f'91.7%</strong> <span class="muted">({low:.1f}–{high:.1f})</span><br>11 at risk' in html
    assert "0 at risk" in html  # at 18 and 24 months: nobody is followed that long yet
    assert 'data-chart="survival"' in html
    assert response.context["chart"]["curves"][0]["label"].startswith("BMAC")
    assert "Time to knee replacement" in client.get(reverse("outcomes:dashboard")).content.decode()


def test_small_products_and_months_with_a_handful_at_risk_are_withheld(client, clinic, clinician):
    registry(clinic, clinician)
    for _ in range(3):
        make_plan(clinic, clinician, product="prp", protocol=PRP_PROTOCOL, scores={"1m": {"pain": 50}})
    client.force_login(clinician)
    curves = {c.product: c for c in client.get(PAGE).context["curves"]}
    assert (curves["prp"].withheld, curves["prp"].plans, curves["prp"].grid) == (True, 3, [])
    assert "Not shown: too few plans" in client.get(PAGE).content.decode()
    rows = list(csv.reader(io.StringIO(client.get(CSV).content.decode("utf-8-sig"))))
    body = [r for r in rows if not r[0].startswith("#")]
    assert body[0] == [
        "product",
        "plans",
        "months",
        "at_risk",
        "survival_pct",
        "ci_low_pct",
        "ci_high_pct",
        "suppressed",
    ]
    prp = [r for r in body if r[0].startswith("PRP")]
    assert prp == [[prp[0][0], "fewer than 10", "", "", "", "", "", "yes"]]
    bmac = {r[2]: r for r in body if r[0].startswith("BMAC")}
    assert bmac["0"][1:5] == ["12", "0", "12", "100.0"]
    assert bmac["6"][3:5] == ["11", "91.7"]
    assert bmac["24"][3:5] == ["0", "91.7"]  # nobody left: zero describes nobody, the estimate stands


def test_a_month_with_1_to_9_at_risk_is_withheld(client, clinic, clinician):
    registry(clinic, clinician, followed=3)  # 4 plans: withheld as a product
    for _ in range(8):
        make_plan(clinic, clinician, scores={"1m": {"pain": 50}})  # 12 plans; only 4 followed past 6 months
    client.force_login(clinician)
    (curve,) = client.get(PAGE).context["curves"]
    grid = {g.months: g for g in curve.grid}
    assert (grid[0].at_risk, grid[6].at_risk, grid[6].survival) == (12, None, None)
    assert grid[12].at_risk == 0


def test_only_the_users_clinics_are_counted(client, clinic, clinician, other_clinic, outsider):
    registry(clinic, clinician)
    client.force_login(outsider)
    assert client.get(PAGE).context["curves"] == []
    assert "No treated knees yet" in client.get(PAGE).content.decode()
    rows = list(csv.reader(io.StringIO(client.get(CSV).content.decode("utf-8-sig"))))
    assert [r for r in rows if not r[0].startswith("#")] == [
        ["product", "plans", "months", "at_risk", "survival_pct", "ci_low_pct", "ci_high_pct", "suppressed"]
    ]
    registry(other_clinic, outsider, followed=9)
    (curve,) = client.get(PAGE).context["curves"]
    assert curve.plans == 10  # the outsider's own clinic only


def test_auditors_read_the_page_and_the_download_is_logged(client, clinic, clinician, auditor):
    from audit.models import AccessLog

    registry(clinic, clinician)
    client.force_login(auditor)
    assert client.get(PAGE).status_code == 200
    assert client.get(CSV).status_code == 200
    assert AccessLog.objects.filter(user=auditor, action="export").exists()


def test_queries_do_not_grow_with_plans(client, clinic, clinician, django_assert_max_num_queries):
    registry(clinic, clinician)
    client.force_login(clinician)
    client.get(PAGE)
    with django_assert_max_num_queries(12) as small:
        client.get(PAGE)
    registry(clinic, clinician)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(PAGE)

"""The outcomes dashboard page, its CSV tables, the patient trajectory: scoping, queries, caching, suppression."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from outcomes.models import FollowUp, Timepoint
from outcomes.services import questionnaire_submit
from tests.outcomes.analysis_data import make_plan
from tests.outcomes.test_analysis_statistics import scores

URL = "/dashboard/outcomes/"


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def some_plans(clinic, clinician, n):
    for i in range(n):
        make_plan(
            clinic,
            clinician,
            kl_grade=2 + i % 2,
            scores={"baseline": scores(40, 50, 60, 20, 50), "1m": scores(50 + i, 55, 40, 28, 40)},
        )


def plans_by_grade(clinic, clinician, **grades: int):
    """``kl2=12, kl3=3``: that many plans at each KL grade, all answering at baseline and 1 month."""
    for grade, n in grades.items():
        for i in range(n):
            make_plan(
                clinic,
                clinician,
                kl_grade=int(grade.removeprefix("kl")),
                scores={"baseline": scores(40, 50, 60, 20, 50), "1m": scores(50 + i, 55, 40, 28, 40)},
            )


def csv_body(client, table: str, **params) -> list[list[str]]:
    response = client.get(reverse("outcomes:dashboard-csv", args=[table]), params)
    assert response.status_code == 200
    return [r for r in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) if r and not r[0].startswith("#")]


def test_urls_are_named():
    assert reverse("outcomes:dashboard") == URL
    assert reverse("outcomes:dashboard-csv", args=["scores"]) == "/dashboard/outcomes/csv/scores/"
    assert reverse("outcomes:patient-trajectory", args=["KR-0000-0000"]) == "/patients/KR-0000-0000/trajectory/"


def test_the_funnel_gives_each_share_of_plans_with_its_wilson_interval(client, clinic, clinician):
    some_plans(clinic, clinician, 12)
    client.force_login(clinician)
    rows = csv_body(client, "funnel")
    header = rows[0]
    cohort = dict(zip(header, rows[1], strict=True))
    assert (cohort["Plans"], cohort["% of plans in the cohort"]) == ("12", "100.0")
    # 12 of 12: low 12 / (12 + 1.96^2) = 75.75%, high 100%.
    assert cohort["% of plans in the cohort 95% CI low (Wilson)"] == f"{100 * 12 / (12 + 1.959963984540054**2):.3f}"
    assert cohort["% of plans in the cohort 95% CI high (Wilson)"] == "100.0"


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_dashboard_shows_numbers_with_their_counts(client, clinic, clinician):
    some_plans(clinic, clinician, 6)
    client.force_login(clinician)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="plans-count">6<' in page
    assert 'role="img"' in page
    assert "chart.umd.js" in page
    assert "Download CSV" in page
    assert 'id="dashboard-data"' in page
    # With its Wilson interval: 6 of 6 is 100%, 95% CI 6 / (6 + 1.96^2) = 61% to 100%.
    assert "1 month completed (6 of 6; 95% CI 61–100%)" in page
    # In the tables each rate carries its interval in its own cell (the files give them columns of their own).
    table = next(t for sec in response.context["sections"] for t in sec["tables"] if t.slug == "completion")
    headings = [heading for _, heading in table.page_columns()]
    assert "Completion % (95% CI)" in headings
    assert not any("CI low" in h for h in headings)
    month = next(r for r in table.display_rows() if r["cells"][0]["text"] == "1 month")
    rate = month["cells"][headings.index("Completion % (95% CI)")]
    assert (rate["text"], rate["interval"]) == ("100.0%", "(61.0–100.0)")
    assert '<span class="interval">(61.0–100.0)</span>' in page


def test_small_groups_are_marked_on_the_page(client, clinic, clinician):
    some_plans(clinic, clinician, 3)
    client.force_login(clinician)
    page = client.get(URL).content.decode()
    assert 'class="small-group"' in page


def test_invalid_filter_is_a_400_with_the_form(client, clinic, clinician):
    client.force_login(clinician)
    response = client.get(URL, {"kl_grade": "9"})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()


def test_a_clinician_of_another_clinic_sees_none_of_it(client, clinic, clinician, outsider):
    some_plans(clinic, clinician, 4)
    client.force_login(outsider)
    page = client.get(URL).content.decode()
    assert 'data-testid="plans-count">0<' in page
    assert clinic.name not in page
    rows = csv_body(client, "completion")[1:]
    assert [r[0] for r in rows] == [
        "Baseline",
        "1 month",
        "6 months",
        "12 months",
        "24 months",
        "Day 2-3 safety check",
        "Day 10-14 safety check",
    ]
    # No plans at all: zeros describe nobody; no percentage (nor its interval) of nothing.
    assert all(set(r[1:-4]) == {"0"} and r[-4:] == ["", "", "", ""] for r in rows)


def test_queries_do_not_grow_with_patients(client, clinic, clinician, django_assert_max_num_queries):
    client.force_login(clinician)
    counts = []
    for n in (3, 27):  # 3 patients, then 30
        some_plans(clinic, clinician, n)
        cache.clear()
        # Session, user, the user's clinics, the two aggregates (each in a savepoint, with jit off on
        # PostgreSQL), clinician names, the header's write check, the second-factor check, the session save; and
        # the rebuild of the plans changed since the last load (how many are queued; one batch: read the queue,
        # clear it, their clinics, upsert, drop orphans, bump the clinics' data versions) and reading the data
        # versions for the cache key; the cohort's temporary table (drop, create, analyze on PostgreSQL, drop); the
        # safety checks' completion; the adjusted comparison (one aggregate over a cohort table of its own, in a
        # savepoint with jit off).
        with django_assert_max_num_queries(48) as captured:
            assert client.get(URL).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_csv_suppresses_small_groups_and_states_the_rule(client, clinic, clinician):
    plans_by_grade(clinic, clinician, kl2=12, kl3=3)
    client.force_login(clinician)
    response = client.get(reverse("outcomes:dashboard-csv", args=["responders_by_kl"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    assert "describes 1 to 9 people" in text
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    header, body = rows[0], rows[1:]
    assert header[-1] == "suppressed"
    kl3_month = next(r for r in body if r[0] == "KL 3" and r[1] == "1 month")
    assert kl3_month[2:-1] == [""] * (len(header) - 3)  # 3 plans: numbers blanked
    assert kl3_month[-1] == "yes"
    # KL 2 is the whole minus KL 3, so its counts go too (complementary suppression): here its N.
    kl2_month = next(r for r in body if r[0] == "KL 2" and r[1] == "1 month")
    assert kl2_month[3] == ""
    assert kl2_month[-1] == "yes"

    month = next(r for r in csv_body(client, "completion")[1:] if r[0] == "1 month")
    assert month[1:4] == ["15", "15", "15"]  # plans, due, completed: shown
    assert month[-2:] == ["100.0", ""]


def test_csv_minimum_may_be_raised(client, clinic, clinician, settings):
    plans_by_grade(clinic, clinician, kl2=12, kl3=11)
    client.force_login(clinician)
    kl3 = next(r for r in csv_body(client, "responders_by_kl") if r[:2] == ["KL 3", "1 month"])
    assert kl3[3] == "11"  # 11 plans: over the default minimum of 10
    settings.DASHBOARD_MIN_GROUP_SIZE = 12
    cache.clear()
    response = client.get(reverse("outcomes:dashboard-csv", args=["responders_by_kl"]))
    assert "describes 1 to 11 people" in response.content.decode("utf-8-sig")
    kl3 = next(r for r in csv_body(client, "responders_by_kl") if r[:2] == ["KL 3", "1 month"])
    assert kl3[3] == ""
    assert kl3[-1] == "yes"


def test_csv_minimum_may_not_be_lowered(client, clinic, clinician, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.DASHBOARD_MIN_GROUP_SIZE = 5
    client.force_login(clinician)
    client.raise_request_exception = True
    with pytest.raises(ImproperlyConfigured, match="not lowered below 10"):
        client.get(reverse("outcomes:dashboard-csv", args=["completion"]))


def test_unknown_csv_table_is_404(client, clinician):
    client.force_login(clinician)
    assert client.get(reverse("outcomes:dashboard-csv", args=["nope"])).status_code == 404


def test_csv_takes_no_filters_and_the_filtered_page_offers_no_download(client, clinic, clinician):
    some_plans(clinic, clinician, 6)
    client.force_login(clinician)
    response = client.get(reverse("outcomes:dashboard-csv", args=["completion"]), {"kl_grade": "2"})
    assert response.status_code == 400
    assert "take no filters" in response.content.decode()
    assert csv_body(client, "completion", compare_by="kl_grade")[0][0] == "Timepoint"  # compare_by is no filter
    filtered = client.get(URL, {"kl_grade": "2", "compare_by": "kl_grade"}).content.decode()
    assert "Download CSV" not in filtered
    assert 'data-testid="no-downloads"' in filtered
    page = client.get(URL, {"compare_by": "kl_grade"}).content.decode()
    assert reverse("outcomes:dashboard-csv", args=["completion"]) + "?compare_by=kl_grade" in page


def answers(follow_up, pain="2"):
    from outcomes.questionnaire import instruments_for

    data = {}
    for instrument in instruments_for(follow_up):
        for item in instrument.items_for_product(follow_up.plan.product):
            name = f"{instrument.code}.{item.code}"
            if item.required_if or item.type == "month":
                continue  # asked only after a yes
            if item.type == "yesno":
                data[name] = "no"
            elif item.type == "slider":
                data[name] = "30" if instrument.code == "VAS" else "20"
            elif item.type == "text":
                continue
            else:
                data[name] = pain
    return data


def test_a_new_submission_shows_on_the_next_load(
    client, clinic, clinician, patient, django_capture_on_commit_callbacks
):
    from tests.factories import make_injection

    with time_machine.travel(dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC), tick=False):
        injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2))
        baseline = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)
        questionnaire_submit(follow_up=baseline, data=answers(baseline))
    with time_machine.travel(dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC), tick=False):
        client.force_login(clinician)
        first = client.get(URL).context["summary"]
        assert first["completion"][1]["completed"] == 0
        assert client.get(URL).context["summary"] is not None  # served again (from the cache)
        month = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
        with django_capture_on_commit_callbacks(execute=True):  # the signal goes out after commit
            questionnaire_submit(follow_up=month, data=answers(month, pain="1"))
        second = client.get(URL).context["summary"]
    assert second["completion"][1]["completed"] == 1
    change = next(m for m in second["timepoints"][1]["measures"] if m["measure"] == "koos_pain")["change"]
    assert change["n"] == 1
    assert change["mean"] == pytest.approx(25.0)  # every KOOS item one step better: 50 -> 75


def test_cached_summary_is_reused_until_a_submission(client, clinic, clinician, django_assert_max_num_queries):
    some_plans(clinic, clinician, 3)
    client.force_login(clinician)
    client.get(URL)
    with django_assert_max_num_queries(10) as captured:
        assert client.get(URL).status_code == 200
    assert not [q for q in captured if "outcomes_followup" in q["sql"]]  # no aggregate ran


def test_trajectory_page_and_outsider_404(client, clinic, clinician, outsider, patient):
    make_plan(
        clinic,
        clinician,
        patient=patient,
        scores={"baseline": scores(40, 50, 60, 20, 50), "1m": scores(60, 65, 30, 30, 30)},
    )
    client.force_login(clinician)
    url = reverse("outcomes:patient-trajectory", args=[patient.registry_number])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Left knee" in page
    assert 'data-chart="trajectory"' in page
    assert "Posterior iliac crest" in page  # the injection's protocol, by its label
    trajectory = response.context["trajectory"]
    assert [p["timepoint"] for p in trajectory["knees"][0]["points"]] == ["Baseline", "1 month"]
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_trajectory_include_for_the_patient_page(clinic, clinician, patient):
    from django.template import Context, Template

    make_plan(clinic, clinician, patient=patient, scores={"baseline": scores(40, 50, 60, 20, 50)})
    html = Template("{% load outcomes_trajectory %}{% patient_trajectory patient %}").render(
        Context({"patient": patient})
    )
    assert 'id="trajectory-data"' in html
    assert "Score trajectory" in html


def test_the_page_states_instruments_knees_pass_sources_and_the_observational_notice(client, clinic, clinician):
    some_plans(clinic, clinician, 3)
    client.force_login(clinician)
    html = client.get(URL).content.decode()  # compare by product, the default
    assert "Observational data, not a comparison of treatments" in html
    assert "Products compared" in html
    assert "Pain instrument in this section: KOOS Pain." in html
    assert "data-knees-select" in html
    assert "All available (different patients at each timepoint)" in html
    assert "Patient acceptable symptom state (PASS)" in html
    assert "missing as non-responder" in html
    # Each PASS from knee-replacement cohorts is starred, and the footnote says what the star means.
    assert "at or above 84.5*" in html
    assert "at or below 32.3." in html
    assert "knee-replacement (arthroplasty) cohorts" in html
    html = client.get(URL, {"compare_by": "kl_grade"}).content.decode()
    assert "Observational data" not in html  # no products compared

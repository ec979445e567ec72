"""What leaves the clinic: the dashboard's CSV files and the summary API withhold every number that describes
from 1 to 9 people, and nothing they withhold can be worked back from everything else one user can download."""

import pytest
import time_machine
from django.core.cache import cache

from outcomes.analysis.summary import outcomes_summary
from tests.outcomes.disclosure_support import (
    COMPARE_BY,
    TODAY,
    download_everything,
    filtered_as_group,
    observe,
    recovered,
    small_group_cohort,
    truth_of,
)

MINIMUM = 10  # the floor of DASHBOARD_MIN_GROUP_SIZE (UK LLC's threshold)


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def lead_of_both(db, today):
    from tests.safety.ae_support import record

    lead = small_group_cohort()
    # One adverse event: a count of 1 that must not leave either.
    from registry.models import Injection

    injection = Injection.objects.filter(product="bmac").order_by("pk").first()
    record(lead, injection)
    return lead


def test_no_withheld_number_can_be_worked_back_from_everything_one_user_downloads(client, lead_of_both):
    """The differencing attack: every CSV and the summary API, for every "compare by", of a cohort whose
    South clinic (3 plans), PRP (3), KL 4 (2) and many counts inside bigger groups are small. Totals minus the
    visible parts, n-weighted means, percentages times denominators, all combined: nothing withheld comes back."""
    client.force_login(lead_of_both)
    files = download_everything(client)
    assert {name for _, name in files} >= {"change_by_group", "completion_by_clinic", "api"}
    truth = truth_of({c: outcomes_summary(lead_of_both, {"compare_by": c}) for c in COMPARE_BY})
    csv_only = recovered({k: v for k, v in files.items() if k[1] != "api"}, truth)
    means = [f for f in csv_only if f.startswith("('s'")]
    assert not csv_only, (
        f"{len(csv_only)} withheld values recovered from the CSV files alone, e.g. {means[:4]} {csv_only[:6]}"
    )
    found = recovered(files, truth)
    assert not found, f"{len(found)} withheld values recovered, e.g. {found[:8]}"


def test_the_same_file_with_and_without_a_filter_gives_nothing_away(client, lead_of_both):
    """A filter that leaves out the small group, then subtraction: the filtered file's overall numbers are those
    of the group it keeps, so the one it leaves out is the total minus them. Downloads take no filters (the page,
    which shows exact numbers to staff, keeps its filters), so there is no second file to subtract."""
    from django.urls import reverse

    from registry.choices import Product
    from registry.models import Clinic

    client.force_login(lead_of_both)
    files = download_everything(client)
    truth = truth_of({c: outcomes_summary(lead_of_both, {"compare_by": c}) for c in COMPARE_BY})
    north = Clinic.objects.get(name="North Knee Clinic")
    for extra, dim, kept in (
        ({"product": "bmac"}, "product", str(Product.BMAC.label)),
        ({"clinic": str(north.pk)}, "clinic", north.name),
    ):
        filtered = download_everything(client, extra)
        refused = client.get(reverse("outcomes:dashboard-csv", args=["completion"]), extra)
        assert refused.status_code == 400  # downloads take no filters: there is no second file to subtract
        assert client.get("/api/v1/outcomes/summary/", extra).status_code == 400
        csv_only = {k: v for k, v in files.items() if k[1] != "api"}
        known = filtered_as_group({k: v for k, v in filtered.items() if k[1] != "api"}, dim, kept)
        found = recovered(csv_only, truth, also_known=known)
        assert not found, f"CSV files with {extra}: {len(found)} withheld values recovered, e.g. {found[:8]}"
        found = recovered(files, truth, also_known=filtered_as_group(filtered, dim, kept))
        assert not found, f"with {extra}: {len(found)} withheld values recovered, e.g. {found[:8]}"


def test_every_number_that_leaves_describes_none_or_at_least_the_minimum(client, lead_of_both):
    """Judged cell by cell by the count it describes: a count itself, a mean by its n, a percentage by its
    numerator, its denominator and those not in its numerator, a rate by its events and injections."""
    client.force_login(lead_of_both)
    obs = observe(download_everything(client))
    too_small = sorted(
        f"{var} = {value}"
        for var, value in obs.values.items()
        if var[0] in ("count", "n") and value is not None and 0 < value < MINIMUM
    )
    pairs = [(("count", "resp", *v[2:]), ("count", "resp_N", *v[2:])) for v in obs.values if v[:2] == ("count", "resp")]
    pairs += [(("count", "mcid", *v[2:]), ("n", "change", *v[2:])) for v in obs.values if v[:2] == ("count", "mcid")]
    pairs += [
        (("count", *v[1:-1], "completed"), ("count", *v[1:-1], "due"))
        for v in obs.values
        if v[:2] == ("count", "completion") and v[-1] == "due"
    ]
    for n, total in pairs:
        if obs.values.get(n) is not None and obs.values.get(total) is not None:
            rest = obs.values[total] - obs.values[n]
            if 0 < rest < MINIMUM:
                too_small.append(f"{total} - {n} = {rest}")
    assert not too_small, f"{len(too_small)} numbers describe 1-{MINIMUM - 1} people, e.g. {too_small[:8]}"


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "admin_user"])
def test_every_role_reads_exact_numbers_on_the_page_and_protected_ones_in_downloads_and_the_api(
    persona, request, client, api_as, clinic, clinician
):
    """One rule for every role that may export (outcomes.analysis.disclosure.CHANNELS): the page shows exact numbers,
    marking those downloads withhold; the CSV files and the API withhold them, for administrators too."""
    from django.urls import reverse

    from tests.outcomes.test_dashboard import csv_body, plans_by_grade

    plans_by_grade(clinic, clinician, kl2=12, kl3=3)
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get("/dashboard/outcomes/", {"compare_by": "kl_grade"})
    kl3 = next(g for g in response.context["summary"]["groups"] if g["label"] == "KL 3")
    assert kl3["plans"] == 3
    assert kl3["timepoints"][1]["measures"][0]["change"]["n"] == 3
    table = next(t for s in response.context["sections"] for t in s["tables"] if t.slug == "change_by_group")
    headings = [key for key, _ in table.columns]
    month = [dict(zip(headings, r["cells"], strict=True)) for r in table.display_rows()]
    month = [
        c
        for c in month
        if c["timepoint"]["text"] == "1 month" and c["n"]["text"] != "0" and c["knees"]["text"].startswith("All")
    ]
    assert len(month) == 2 * 4  # two groups, four measures scored (the others have n = 0: nothing to hide)
    for cells in month:
        # KL 3 has 3 plans; KL 2 is the whole minus KL 3: both are marked, with their exact numbers shown.
        assert all(cells[key]["withheld"] for key in ("plans", "n", "mean", "sd"))
        assert cells["plans"]["text"] == cells["n"]["text"] == {"KL 2": "12", "KL 3": "3"}[cells["group"]["text"]]
    assert "(withheld from downloads)" in response.content.decode()
    assert reverse("outcomes:dashboard-csv", args=["change_by_group"]) in response.content.decode()

    rows = csv_body(client, "change_by_group", compare_by="kl_grade")
    header, body = rows[0], rows[1:]
    for row in body:
        cells = dict(zip(header, row, strict=True))
        assert (cells["Plans"], cells["suppressed"]) == ("", "yes")
        scored = cells["Knees"].startswith("All") or cells["n"] != "0"  # a zero describes nobody: shown
        if scored and cells["Timepoint"] == "1 month" and cells["Measure"] in ("KOOS Pain", "KOOS ADL", "VAS pain"):
            assert cells["n"] == cells["Mean"] == cells["SD"] == ""

    data = api_as(user).get("/api/v1/outcomes/summary/", {"compare_by": "kl_grade"}).json()
    for group in data["groups"]:
        assert (group["plans"], group["suppressed"]) == (None, ["plans"])
        assert group["timepoints"][1]["measures"][0]["change"]["mean"] is None
    assert data["plans"] == 15  # the whole cohort is not small


def test_an_interval_is_withheld_whenever_its_count_is(client, lead_of_both):
    """A Wilson interval's limits give back n and N (and an exact one's give back events and injections): wherever
    the API or a CSV file withholds a percentage's count, it withholds the interval too."""
    from django.urls import reverse

    from tests.outcomes.disclosure_support import parse_csv

    client.force_login(lead_of_both)
    data = client.get("/api/v1/outcomes/summary/").json()
    withheld, shown = [], []

    def walk(node):
        if isinstance(node, dict):
            if "ci_low" in node and ("pct" in node or "per_100" in node):
                counts = {"n", "N", "events", "injections"} & set(node["suppressed"])
                (withheld if counts else shown).append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert withheld, "the cohort should have some withheld proportions"
    assert any("per_100" in node for node in withheld), "the one adverse event is withheld, with its interval"
    for node in withheld:
        assert node["ci_low"] is None, node
        assert node["ci_high"] is None, node
        assert {"ci_low", "ci_high"} <= set(node["suppressed"])
    assert any(node["ci_low"] is not None for node in shown)

    blank_cis = 0
    for slug in ("completion", "change", "responders", "responders_by_kl", "adverse_events", "funnel"):
        response = client.get(reverse("outcomes:dashboard-csv", args=[slug]))
        for row in parse_csv(response.content.decode("utf-8-sig")):
            for column in [c for c in row if " 95% CI " in c]:
                rate = column.split(" 95% CI ")[0]
                if row[rate] == "":
                    blank_cis += 1
                    assert row[column] == "", (slug, column, row)
    assert blank_cis

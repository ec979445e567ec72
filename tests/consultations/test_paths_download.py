"""The fallback paths CSV (/consultations/fallback-paths.csv): protected as the dashboard's downloads are, so no
number describing 1 to 9 knees is printed and none can be worked out by subtracting printed numbers (tried here,
relation by relation, as a reader of the file would)."""

import csv

import pytest
from django.urls import reverse

from audit.models import AccessAction, AccessLog
from consultations.models import FallbackReview
from outcomes.analysis import plan_outcomes
from registry.models import TreatmentPlan
from tests.outcomes.analysis_data import bulk_pairs

K = 10
URL = reverse("consultations:fallback-paths-csv")
FINDINGS = ("not_improved", "no_follow_up", "improved")
OFFERS = ("physiotherapy", "repeat_injection", "another_product", "surgical_referral", "nothing")
TAKEN = (*OFFERS, "declined", "undecided")


def _reviews(plan_ids, clinician, *, taken: list[str]):
    FallbackReview.objects.bulk_create(
        FallbackReview(
            plan_id=plan_id,
            clinician=clinician,
            created_by=clinician,
            reviewed_on="2026-09-01",
            finding="not_improved",
            offered=["physiotherapy"],
            path_taken=path,
        )
        for plan_id, path in zip(plan_ids, taken, strict=True)
    )


@pytest.fixture
def cohort_with_small_groups(clinic, clinician):
    """Reviews: BMAC KL 2 x12 (9 took physiotherapy, 3 declined), BMAC KL 4 x3, PRP KL 2 x11 (all took it): 26.
    Repeats: 12 BMAC -> BMAC, 8 of them improved on KOOS Pain (+20) and 4 not (+5)."""
    pair = ({"pain": 40, "oks": 20}, {"pain": 45, "oks": 22})
    bmac_early = bulk_pairs(clinic, clinician, [pair] * 12, timepoint="6m", kl_grade=2)
    bmac_advanced = bulk_pairs(clinic, clinician, [pair] * 3, timepoint="6m", kl_grade=4)
    prp_early = bulk_pairs(clinic, clinician, [pair] * 11, timepoint="6m", kl_grade=2, product="prp")
    _reviews(bmac_early, clinician, taken=["physiotherapy"] * 9 + ["declined"] * 3)
    _reviews(bmac_advanced, clinician, taken=["physiotherapy"] * 3)
    _reviews(prp_early, clinician, taken=["physiotherapy"] * 11)
    better, worse = ({"pain": 40, "oks": 20}, {"pain": 60, "oks": 30}), pair
    repeats = bulk_pairs(clinic, clinician, [better] * 8 + [worse] * 4, timepoint="6m")
    for first, repeat in zip(bmac_early, repeats, strict=True):
        TreatmentPlan.objects.filter(pk=repeat).update(repeat_of=first)
    plan_outcomes.refresh()


def _download(client) -> tuple[list[dict], list[dict]]:
    response = client.get(URL, {"encoding": "utf-8"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="fallback-paths-')
    lines = [line for line in response.content.decode().splitlines() if not line.lstrip('"').startswith("#")]
    blank = lines.index("")
    return [_numbers(r) for r in csv.DictReader(lines[:blank])], [
        _numbers(r) for r in csv.DictReader(lines[blank + 1 :])
    ]


def _numbers(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        try:
            out[key] = float(value) if "." in value else int(value)
        except ValueError:
            out[key] = None if value == "" else value
    return out


def _remainder_safe(total, parts) -> None:
    """A reader who knows the total and the printed parts knows what the withheld parts add up to: it must
    describe nobody or at least K knees (one withheld part alone would be given away)."""
    if total is None:
        return
    remainder = total - sum(p for p in parts if p is not None)
    assert remainder == 0 or remainder >= K, (total, parts)


def test_nothing_small_is_printed_or_recoverable_by_subtraction(client, clinician, cohort_with_small_groups):
    client.force_login(clinician)
    reviews, repeats = _download(client)
    total, *groups = reviews
    assert (total["product"], total["kl_band"]) == ("all", "all")
    assert [(g["product"], g["kl_band"]) for g in groups] == [("bmac", "early"), ("bmac", "advanced"), ("prp", "early")]
    for row in reviews + repeats:
        for key, value in row.items():
            if isinstance(value, int) and not key.endswith(("product", "band")):
                assert not 0 < value < K, (key, row)  # no small number printed
    # Subtract across the rows: each column's total minus its printed groups.
    columns = ("reviewed", *(f"found_{c}" for c in FINDINGS), *(f"offered_{c}" for c in OFFERS))
    for column in (*columns, *(f"taken_{c}" for c in TAKEN)):
        _remainder_safe(total[column], [g[column] for g in groups])
    # And along each row: reviews = findings = paths taken; reviews - an offer = those not offered it.
    for row in reviews:
        _remainder_safe(row["reviewed"], [row[f"found_{c}"] for c in FINDINGS])
        _remainder_safe(row["reviewed"], [row[f"taken_{c}"] for c in TAKEN])
        for code in OFFERS:
            if row["reviewed"] is not None and row[f"offered_{code}"] is not None:
                _remainder_safe(row["reviewed"], [row[f"offered_{code}"]])
    # The groups of 3 (BMAC KL 3-4, those who declined) are not there; nor is the 26 - 12 - 11 that would give them.
    assert groups[1]["reviewed"] is None
    assert groups[0]["taken_declined"] is None
    assert None in (total["reviewed"], groups[0]["reviewed"], groups[2]["reviewed"])
    # Repeats: 12 compared, 8 improved leaves 4 not improved: the 8 (and its share) are withheld, the 12 kept.
    first, repeat = repeats
    assert (repeat["course"], repeat["courses"], repeat["koos_pain_compared"]) == ("repeat", 12, 12)
    assert (repeat["koos_pain_improved"], repeat["koos_pain_improved_pct"], repeat["koos_pain_ci_low"]) == (
        None,
        None,
        None,
    )
    assert repeat["koos_pain_mean_change"] == pytest.approx((8 * 20 + 4 * 5) / 12, abs=0.05)
    _remainder_safe(repeat["koos_pain_compared"], [repeat["koos_pain_improved"]])
    assert (first["course"], first["koos_pain_improved"], first["koos_pain_compared"]) == ("first", 0, 12)


def test_the_page_itself_shows_exact_numbers(client, clinician, cohort_with_small_groups):
    client.force_login(clinician)
    response = client.get(reverse("consultations:fallback-paths"))
    rows = {(r.product, r.band): r.reviewed for r in response.context["rows"]}
    assert rows == {("bmac", "early"): 12, ("bmac", "advanced"): 3, ("prp", "early"): 11}
    assert f'href="{URL}"' in response.content.decode()


def test_downloads_take_no_filters(client, clinician, clinic):
    client.force_login(clinician)
    response = client.get(URL, {"clinic": clinic.pk})
    assert response.status_code == 400
    assert response.content.decode() == "clinic: downloads take no filters (they describe all your clinics' courses)."
    page = client.get(reverse("consultations:fallback-paths"), {"clinic": clinic.pk}).content.decode()
    assert f'href="{URL}"' not in page  # a filtered page offers no download


def test_every_download_is_logged_and_other_clinics_see_only_theirs(client, outsider, cohort_with_small_groups):
    client.force_login(outsider)
    reviews, repeats = _download(client)
    (total,) = reviews  # the total row only, every number of it 0
    assert {value for key, value in total.items() if key not in ("product", "kl_band")} == {0}
    assert repeats == []
    assert AccessLog.objects.filter(user=outsider, action=AccessAction.EXPORT).count() == 1

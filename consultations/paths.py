"""Fallback paths (issue 16): what the reviews of courses that did not help found, offered and led to, by product
and KL band; and how the repeat courses given after a failed first did, beside the first courses of the same knees.

Every figure is a count or a sum made by the database over the reader's analysis cohort
(outcomes.analysis.cohort.cohort, already narrowed by the dashboard's filters): three grouped queries, whatever
the number of knees. Outcomes are read from the per-plan summaries (outcomes.models.PlanOutcome, through the
plan's ``outcome_summary``), with the dashboard's own expressions, so a change or an MCID means here what it means
there.

KL bands, not grades: reviews are a small subset of courses (those that did not help), so five grades times every
product leaves most cells empty or single. The bands are those of "knees like mine" (KL 0-2 early, 3-4 advanced).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Case, CharField, Count, F, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from consultations.choices import FallbackOffer, PathTaken, ReviewFinding
from consultations.models import FallbackReview
from outcomes.analysis.disclosure import Release
from outcomes.analysis.expectation import KL_BAND_LABELS, KL_BANDS
from outcomes.analysis.expressions import change, is_due, reaches_mcid, sums
from outcomes.analysis.stats import wilson
from outcomes.models import FollowUpStatus, Timepoint
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import get_thresholds
from registry.choices import Product
from registry.models import TreatmentPlan

NOT_RECORDED = "not_recorded"
BAND_LABELS = {**KL_BAND_LABELS, NOT_RECORDED: "KL grade not recorded"}
# The follow-up a repeat course is judged at (the default review point).
TIMEPOINT = Timepoint.SIX_MONTHS
# Measure name (outcomes.measures / thresholds) -> its score column, as the page shows them.
MEASURES = (("koos.pain", "koos_pain", "KOOS Pain"), ("oks.total", "oks_total", "Oxford Knee Score"))


def _band(path: str) -> Case:
    return Case(
        *[When(**{f"{path}__in": grades}, then=Value(band)) for band, grades in KL_BANDS.items()],
        default=Value(NOT_RECORDED),
        output_field=CharField(),
    )


# --- (a) Reviews by product and KL band -------------------------------------------------------------------------


@dataclass(frozen=True)
class PathCounts:
    product: str
    product_label: str
    band: str
    band_label: str
    reviewed: int
    findings: dict[str, int]  # ReviewFinding code -> reviews
    offered: dict[str, int]  # FallbackOffer code -> reviews that offered it (a review may offer several)
    taken: dict[str, int]  # PathTaken code -> reviews


def _offered(code: str) -> Q:
    # The offers are a JSON list of distinct codes: matching the quoted code in its text works on PostgreSQL and
    # SQLite alike (JSON containment is PostgreSQL's only), and no code is a part of another in quotes.
    return Q(offered_text__contains=f'"{code}"')


def fallback_paths(plans: QuerySet[TreatmentPlan]) -> list[PathCounts]:
    """Reviews of the courses in ``plans``, one row per (product of the course, KL band of its first injection),
    in one grouped query. Bands without a review are left out."""
    rows = (
        FallbackReview.objects.filter(plan__in=plans.order_by().values("pk"))
        .order_by()  # no default ordering in the GROUP BY
        .alias(offered_text=Cast("offered", TextField()))
        .values(product=F("plan__product"), band=_band("plan__outcome_summary__kl_grade"))
        .annotate(
            reviewed=Count("pk"),
            **{f"finding_{code}": Count("pk", filter=Q(finding=code)) for code in ReviewFinding.values},
            **{f"offered_{code}": Count("pk", filter=_offered(code)) for code in FallbackOffer.values},
            **{f"taken_{code}": Count("pk", filter=Q(path_taken=code)) for code in PathTaken.values},
        )
    )
    products, bands = dict(Product.choices), list(BAND_LABELS)
    out = [
        PathCounts(
            product=row["product"],
            product_label=products.get(row["product"], row["product"]),
            band=row["band"],
            band_label=BAND_LABELS[row["band"]],
            reviewed=row["reviewed"],
            findings={code: row[f"finding_{code}"] for code in ReviewFinding.values},
            offered={code: row[f"offered_{code}"] for code in FallbackOffer.values},
            taken={code: row[f"taken_{code}"] for code in PathTaken.values},
        )
        for row in rows
    ]
    order = list(Product.values)
    return sorted(
        out, key=lambda r: (order.index(r.product) if r.product in order else len(order), bands.index(r.band))
    )


# --- (b) Outcomes after a repeat course --------------------------------------------------------------------------


@dataclass(frozen=True)
class Improvement:
    label: str
    improved: int  # reached the MCID
    compared: int  # scored before the course and at the follow-up
    mean_change: float | None

    @property
    def percent(self) -> float | None:
        return None if not self.compared else 100 * self.improved / self.compared

    @property
    def interval(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the share improved, in percent."""
        limits = wilson(self.improved, self.compared)
        return None if limits is None else (100 * limits[0], 100 * limits[1])


@dataclass(frozen=True)
class CourseOutcomes:
    courses: int
    due: int  # the follow-up was due (answered, missed, or open past its date)
    heard_back: int  # answered it
    measures: list[Improvement]


@dataclass(frozen=True)
class RepeatOutcomes:
    first_product: str
    first_label: str
    repeat_product: str
    repeat_label: str
    repeat: CourseOutcomes  # the repeat courses
    first: CourseOutcomes  # the first courses of the same knees (one per repeat course)

    @property
    def courses(self) -> list[tuple[str, CourseOutcomes]]:
        """The two sides as the page lists them: the first courses, then the repeats."""
        return [("First course", self.first), ("Repeat course", self.repeat)]


def _outcome_aggregates(today: dt.date) -> dict:
    thresholds = get_thresholds()
    t = SHORT[TIMEPOINT]
    aggregates = {
        "courses": Count("pk"),
        "due": Count("pk", filter=is_due(TIMEPOINT, today)),
        "heard_back": Count("pk", filter=Q(**{f"{t}_status": FollowUpStatus.COMPLETED})),
    }
    for name, column, _label in MEASURES:
        aggregates |= sums(column, change(TIMEPOINT, column))
        improved = reaches_mcid(TIMEPOINT, column, thresholds[f"mcid.{name}"])
        aggregates[f"{column}_mcid"] = Count("pk", filter=Q(improved))
    return aggregates


def _summary_aliases(path: str) -> dict[str, F]:
    """The summary columns the expressions read (``b_koos_pain``, ``m6_status``...), from the summary row at
    ``path``: the repeat course's own, or that of the course it repeats."""
    b, t = SHORT[Timepoint.BASELINE], SHORT[TIMEPOINT]
    names = [f"{t}_status", f"{t}_due", *(f"{p}_{column}" for p in (b, t) for _name, column, _label in MEASURES)]
    return {name: F(f"{path}__{name}") for name in names}


def _course_outcomes(row: dict) -> CourseOutcomes:
    measures = []
    for _name, column, label in MEASURES:
        n, total = row[f"{column}_n"], row[f"{column}_s"]
        mean = None if not n or total is None or not math.isfinite(total) else total / n
        measures.append(Improvement(label, row[f"{column}_mcid"], n, mean))
    return CourseOutcomes(row["courses"], row["due"], row["heard_back"], measures)


def repeat_outcomes(plans: QuerySet[TreatmentPlan], *, today: dt.date | None = None) -> list[RepeatOutcomes]:
    """Repeat courses in ``plans`` (a course whose ``repeat_of`` is set), by the first course's product and the
    repeat's: how many, heard back at 6 months, improved by at least the MCID in KOOS Pain and OKS, mean change;
    and the same for the first courses of those knees. Two grouped queries (the repeats', the firsts')."""
    today = today or timezone.localdate()
    repeats = TreatmentPlan.objects.filter(
        pk__in=plans.filter(repeat_of__isnull=False).order_by().values("pk")
    ).order_by()  # no default ordering in the GROUP BY
    keys = {"first_product": F("repeat_of__product"), "repeat_product": F("product")}
    aggregates = _outcome_aggregates(today)
    own = repeats.alias(**_summary_aliases("outcome_summary")).values(**keys).annotate(**aggregates)
    earlier = repeats.alias(**_summary_aliases("repeat_of__outcome_summary")).values(**keys).annotate(**aggregates)
    firsts = {(r["first_product"], r["repeat_product"]): r for r in earlier}
    products = dict(Product.choices)
    out = [
        RepeatOutcomes(
            first_product=row["first_product"],
            first_label=products.get(row["first_product"], row["first_product"]),
            repeat_product=row["repeat_product"],
            repeat_label=products.get(row["repeat_product"], row["repeat_product"]),
            repeat=_course_outcomes(row),
            first=_course_outcomes(firsts[(row["first_product"], row["repeat_product"])]),
        )
        for row in own
    ]
    return sorted(out, key=lambda r: (r.first_label, r.repeat_label))


# --- The download: protected as the dashboard's downloads are ----------------------------------------------------

ALL = "all"
CSV_PATH_FIELDS = (
    *(f"found_{code}" for code in ReviewFinding.values),
    *(f"offered_{code}" for code in FallbackOffer.values),
    *(f"taken_{code}" for code in PathTaken.values),
)
CSV_PATH_COLUMNS = ("product", "kl_band", "reviewed", *CSV_PATH_FIELDS)
CSV_REPEAT_COLUMNS = (
    "first_product",
    "repeat_product",
    "course",
    "courses",
    "due_6m",
    "heard_back_6m",
    *(
        f"{column}_{what}"
        for _name, column, _label in MEASURES
        for what in ("improved", "compared", "improved_pct", "ci_low", "ci_high", "mean_change")
    ),
)


def _path_row(product: str, band: str, reviewed: int, fields: dict[str, int]) -> dict:
    return {"product": product, "kl_band": band, "reviewed": reviewed, **fields}


def _path_fields(row: PathCounts) -> dict[str, int]:
    return {
        **{f"found_{c}": n for c, n in row.findings.items()},
        **{f"offered_{c}": n for c, n in row.offered.items()},
        **{f"taken_{c}": n for c, n in row.taken.items()},
    }


def released(rows: list[PathCounts], repeats: list[RepeatOutcomes], *, k: int) -> tuple[list[dict], list[dict]]:
    """The page's two tables as a download may show them, by the dashboard's rules (outcomes.analysis.disclosure):
    no number describing 1 to k - 1 knees, and none a reader can work out from the others. The cells and the sums
    a reader can write down: each row's reviews = its findings = its paths taken (each summed), reviews = offered
    + not offered (per offer), and every column of the reviews table = the sum of its rows (the total row printed
    too); in the repeats table, due = heard back + not, compared = improved + not, courses = due + not due.
    Withheld numbers are None, and so are the percentages, intervals and means that go with them."""
    r = Release(k)
    path_rows = [_path_row(row.product, row.band, row.reviewed, _path_fields(row)) for row in rows]
    total_fields = {f: sum(row[f] for row in path_rows) for f in CSV_PATH_FIELDS}
    total = _path_row(ALL, ALL, sum(row["reviewed"] for row in path_rows), total_fields)
    cells: list[dict[str, tuple]] = []
    for row in [total, *path_rows]:
        g = (row["product"], row["kl_band"])
        ids = {name: r.cell((name, *g), row[name], [(row, (name,))]) for name in ("reviewed", *CSV_PATH_FIELDS)}
        reviewed = ids["reviewed"]
        r.relate(reviewed, [ids[f"found_{c}"] for c in ReviewFinding.values])
        r.relate(reviewed, [ids[f"taken_{c}"] for c in PathTaken.values])
        for code in FallbackOffer.values:
            rest = r.cell(("not offered", code, *g), row["reviewed"] - row[f"offered_{code}"], published=False)
            r.relate(reviewed, [ids[f"offered_{code}"], rest])
        cells.append(ids)
    for name in ("reviewed", *CSV_PATH_FIELDS):
        r.relate(cells[0][name], [ids[name] for ids in cells[1:]])

    repeat_rows = []
    for pair in repeats:
        p = (pair.first_product, pair.repeat_product)
        for side, course in (("first", pair.first), ("repeat", pair.repeat)):
            row = {
                "first_product": p[0],
                "repeat_product": p[1],
                "course": side,
                "courses": course.courses,
                "due_6m": course.due,
                "heard_back_6m": course.heard_back,
            }
            # One first course per repeat: both sides' course counts are one number.
            courses = r.cell(("courses", *p), course.courses, [(row, ("courses",))])
            due = r.cell(("due", side, *p), course.due, [(row, ("due_6m",))])
            heard = r.cell(("heard", side, *p), course.heard_back, [(row, ("heard_back_6m",))])
            r.relate(courses, [due, r.cell(("not due", side, *p), course.courses - course.due, published=False)])
            r.relate(due, [heard, r.cell(("not heard", side, *p), course.due - course.heard_back, published=False)])
            for (_name, column, _label), m in zip(MEASURES, course.measures, strict=True):
                interval = m.interval
                row |= {
                    f"{column}_improved": m.improved,
                    f"{column}_compared": m.compared,
                    f"{column}_improved_pct": None if m.percent is None else round(m.percent, 1),
                    f"{column}_ci_low": None if interval is None else round(interval[0], 1),
                    f"{column}_ci_high": None if interval is None else round(interval[1], 1),
                    f"{column}_mean_change": None if m.mean_change is None else round(m.mean_change, 1),
                }
                # A share goes with its numerator and denominator; the mean with its n (the knees compared).
                share = (f"{column}_improved_pct", f"{column}_ci_low", f"{column}_ci_high")
                at_compared = [(row, (f"{column}_compared", *share, f"{column}_mean_change"))]
                compared = r.cell(("compared", column, side, *p), m.compared, at_compared)
                improved = r.cell(("improved", column, side, *p), m.improved, [(row, (f"{column}_improved", *share))])
                not_improved = m.compared - m.improved
                r.relate(
                    compared, [improved, r.cell(("not improved", column, side, *p), not_improved, published=False)]
                )
                not_compared = course.heard_back - m.compared
                r.relate(heard, [compared, r.cell(("not compared", column, side, *p), not_compared, published=False)])
            repeat_rows.append(row)
    r.protect()
    for cell in r.cells.values():
        if cell.hidden:
            for holder, fields in cell.places:
                for name in fields:
                    holder[name] = None
    return [total, *path_rows], repeat_rows


__all__ = ["BAND_LABELS", "PathCounts", "RepeatOutcomes", "fallback_paths", "released", "repeat_outcomes"]

"""Knees like mine: what this registry's own outcomes say a knee like the one in a consultation may expect from
each option (issue 16). A pure read-side service over the per-plan summaries (outcomes.models.PlanOutcome).

The reference group of an option
- Knees treated with the option's product, within the plans the reader may see (``plans``), whose follow-up at
  the timepoint is DUE (``expressions.is_due``: completed, missed, or open past its due day): the denominator Z of
  every figure, the same for every option. Knees not yet due are not counted anywhere.
- Comparable: the same KL band and the same age band as the profile. KL bands: 0-2 "early" (no or doubtful
  narrowing of the joint space) and 3-4 "advanced" (definite narrowing, up to bone on bone): the split injection
  studies and guidance use, and KL 4 is itself a reason against injection in the consultation record. Age bands
  are registry.models.patient.AGE_BANDS, as on the dashboard. A profile without a KL grade or an age is not
  narrowed by it.
- Too few knees due (fewer than the minimum, below): the group is widened a step at a time, first dropping the age
  band, then the KL band, and every step taken is recorded in plain words ("No age limit: too few knees aged
  60-69"); no count is given with it. When even the product alone has too few, the option says "Not enough data in
  this registry" and shows no figure at all.

The figures of an option, each over its reference group
- heard back: Y of Z completed the questionnaire at the timepoint (completion, with its Wilson 95% interval);
- for KOOS Pain and the Oxford Knee Score: the knees that can be compared (scored at baseline and at the
  timepoint; usually all Y), of which those improved by at least the MCID (outcomes.thresholds, inclusive as on
  the dashboard) and those that stayed the same or got worse (change <= 0), each a share with its Wilson interval,
  and the typical change: mean, SD and 95% CI (t);
- OMERACT-OARSI responders (KOOS Pain as the pain domain, as on the dashboard) of the knees it can decide;
- adverse events per 100 given injections of the group's plans, by seriousness, with exact (Clopper-Pearson)
  intervals (outcomes.analysis.adverse_events);
- further treatment: the group's knees with any further treatment reported so far (at any time after the
  injection, up to today: the fallback path is taken after the review point), and per kind (FurtherTreatment
  kinds); a knee is counted once per kind, and may have several kinds;
- the group described: product, KL band, age band, number of clinics, the months of the earliest and latest
  first injection (a plan's baseline is due on its injection day: outcomes.schedule.baseline_window), and the
  date the figures were worked out (``as_of``); a caution when fewer than 60% were heard back.
All from SQL aggregates: the reader's plans go once into a temporary table; one grouped query reads it for every
option and level at once (the knees due, keyed by product, "same KL band" and "same age band"); the chosen
reference groups go into a second temporary table; one grouped query works out every option's figures over its
group; then three queries grouped by the group's product serve every option at once: given injections, adverse
events by seriousness, further treatment. No row per patient reaches Python; the number of queries grows with
neither the registry nor the options (`make bench`, step expectation, measures it against the hand-written SQL of
bench/expectation_bench.py).

Small numbers (the rule, tests/outcomes/test_expectation.py checks it at its boundaries)
- The minimum is max(10, outcomes.analysis.disclosure.minimum()), raised further by the setting
  EXPECTATION_MIN_KNEES or the ``minimum`` argument; a lower value is ignored (10 is UK LLC's rule for any number
  leaving a trusted environment; NHS Digital computes no mean from fewer than 8). The page may be given to a
  patient, so it is protected like the exports, not shown exactly like the dashboard page.
- No figure describes fewer than the minimum: a count from 1 to minimum - 1 is shown as "fewer than 10" (zero is
  shown: it describes nobody), and a percentage, interval or mean goes with its counts.
- No figure is derivable from others: every "total = sum of its parts" a reader can write down (Z = heard back +
  not heard back; heard back = compared + not comparable; compared = improved + same or worse + improved less
  than the MCID; heard back = decided + undecided; knees = with further treatment + without; the kinds add up to
  the knees with further treatment when no knee has two) goes through the exports' complementary suppression
  (outcomes.analysis.disclosure.Release: withheld parts at least two and together 0 or at least the minimum,
  then an exact audit of the reader's linear system). A number withheld only so that a small one cannot be worked
  out by subtraction is shown as "withheld", never exactly: with "fewer than 10" beside it, both are bounds.
- When 1 to k - 1 knees were not heard back, the number due is shown as a range ("21 to 29" beside 20 heard back)
  rather than withholding the number heard back, which is the denominator of every outcome figure. Nothing beside
  the range may narrow it back down (tests/outcomes/test_expectation_disclosure_gap.py reads the whole result, the
  lines and the table for 1, 3 and 9 not heard back and finds them the same):
  - the given injections: every knee has at least one, and usually exactly one, so their number is the number due.
    It is withheld ("would give away how many did not answer"), and with it the rate per 100 injections and its
    exact interval (events x 100 / rate, or the interval, would give it back). The event counts stay, under the
    usual rule (0, 10 or more, else "fewer than 10"). We chose this over a range of rates (from the injections of
    the knees heard back up to k - 1 more knees' planned injections) because a range needs another query and its
    own audit, and an event count beside a withheld denominator is what the exports already publish;
  - the shares over the number due (heard back, further treatment): withheld with their denominator, counts kept;
  - the caution on completion: decided from the range's far end (heard / (heard + k - 1)), which a reader knows
    anyway, and worded "may have", so that whether it shows says nothing more than the range.
- A consequence to know: when 1 to k - 1 of the knees heard back have no score to compare on a measure (no
  baseline, say), the number compared on it would give them away (heard back - compared), so it is withheld, and
  with it that measure's percentages and mean; its counts are still shown where safe.
- Options are different products, so their groups never overlap and no relation ties them. Not protected, as
  for the exports (see disclosure): two pages of different profiles subtracted from one another.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import dateformat, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop, ngettext, ngettext_lazy, pgettext

from outcomes.analysis import adverse_events, aggregates, disclosure, plan_outcomes
from outcomes.analysis.aggregates import RESPONDER_PAIN
from outcomes.analysis.expressions import (
    FOLLOW_UP_TIMEPOINTS,
    RESPONDER_WEIGHT,
    change,
    is_due,
    oarsi_responder,
    reaches_mcid,
    responder_counts,
)
from outcomes.analysis.stats import mean_ci, share
from outcomes.derived import EPS
from outcomes.measures import BY_NAME
from outcomes.models import FollowUpStatus, FurtherTreatment, FurtherTreatmentKind, Timepoint
from outcomes.models.plan_outcome import SHORT
from outcomes.thresholds import get_thresholds
from registry.choices import Product
from registry.models.patient import AGE_BANDS, age_band

SETTING = "EXPECTATION_MIN_KNEES"
_COHORT_TABLE = "outcomes_expectation_cohort"  # not the summary's: the consultation page may show both
_GROUP_TABLE = "outcomes_expectation_groups"
COMPLETION_CAUTION_BELOW = 60.0  # percent heard back
# The two measures with a benefit and a risk line each; OMERACT-OARSI is shown beside them.
MEASURES = ("koos.pain", "oks.total")
KL_BANDS: dict[str, tuple[int, ...]] = {"early": (0, 1, 2), "advanced": (3, 4)}
KL_BAND_LABELS = {"early": "KL grade 0-2 (early)", "advanced": "KL grade 3-4 (advanced)"}
NOT_ENOUGH = (
    "Not enough data in this registry: fewer than {minimum} knees treated with {name} have reached {timepoint}, "
    "so we give no numbers for it."
)
WITHOUT_INJECTION = (
    "This registry follows knees after an injection. It has no figures for care without an injection, such as "
    "exercise, weight loss or pain pills."
)
UPDATE_POLICY = "Worked out from the registry's latest data each time it is shown."
# The cautions and names are translated where the patient's lines use them (gettext_noop marks them).
CAUTION = gettext_noop(
    "We heard back from fewer than 6 in 10 of these knees. People who answer may differ from those who do not, "
    "so the numbers may be too high or too low."
)
# When the number due is a range: decided from the range's far end, so its presence narrows nothing down.
CAUTION_RANGE = gettext_noop(
    "We may have heard back from fewer than 6 in 10 of these knees. People who answer may differ from those who do "
    "not, so the numbers may be too high or too low."
)
WITHHELD_INJECTIONS = "withheld: would give away how many did not answer"
# Names a patient can read (the registry's product labels are written for staff).
PLAIN_NAMES = {
    Product.BMAC: gettext_noop("bone marrow cells (BMAC)"),
    Product.PRP: gettext_noop("platelet-rich plasma (PRP)"),
    Product.HA: gettext_noop("hyaluronic acid (HA)"),
    Product.EXOSOME: gettext_noop("exosomes"),
    Product.ADSC: gettext_noop("fat cells (ADSC)"),
    Product.CORTICOSTEROID: gettext_noop("a steroid"),
    Product.SALINE: gettext_noop("salt water (saline)"),
    Product.OTHER: gettext_noop("another product"),
}

# The timepoint in a patient's words (the Timepoint labels are not translated).
WHEN = {
    Timepoint.ONE_MONTH: gettext_noop("1 month"),
    Timepoint.SIX_MONTHS: gettext_noop("6 months"),
    Timepoint.TWELVE_MONTHS: gettext_noop("12 months"),
    Timepoint.TWENTY_FOUR_MONTHS: gettext_noop("24 months"),
}


@dataclass(frozen=True)
class KneeProfile:
    kl_grade: int | None
    age: int | None
    product: str | None  # the option considered (registry.choices.Product value)


# --- Rules -----------------------------------------------------------------------------------------------------


def minimum(requested: int | None = None) -> int:
    """The fewest knees a figure may describe: max(10, the exports' minimum), raised (never lowered) by the
    setting EXPECTATION_MIN_KNEES and by ``requested``."""
    values = [disclosure.FLOOR, disclosure.minimum()]
    for value in (getattr(settings, SETTING, None), requested):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{SETTING}: the minimum must be a whole number of knees, not {value!r}")
            values.append(value)
    return max(values)


def kl_band(grade: int | None) -> str | None:
    """The KL band of a grade: "early" (KL 0-2), "advanced" (KL 3-4), or None when the grade is not known."""
    if grade is None:
        return None
    for band, grades in KL_BANDS.items():
        if grade in grades:
            return band
    raise ValueError(f"KL grade must be 0 to 4, not {grade!r}")


def _age_range(age: int | None) -> tuple[int, int] | None:
    if age is None:
        return None
    if isinstance(age, bool) or not isinstance(age, int) or age < 0:
        raise ValueError(f"age must be a whole number of years, not {age!r}")
    band = next(((low, high) for low, high in AGE_BANDS if low <= age <= high), None)
    if band is None:
        raise ValueError(f"age must be a whole number of years, not {age!r}")
    return band


def _check(profile: KneeProfile, options: Sequence[str] | None, timepoint: str) -> None:
    if timepoint not in FOLLOW_UP_TIMEPOINTS:
        raise ValueError(f"timepoint must be one of {', '.join(FOLLOW_UP_TIMEPOINTS)}, not {timepoint!r}")
    unknown = [p for p in [profile.product, *(options or ())] if p is not None and p not in Product.values]
    if unknown:
        raise ValueError(f"unknown product {unknown[0]!r} (known: {', '.join(Product.values)})")
    kl_band(profile.kl_grade)
    _age_range(profile.age)


# --- The one grouped query -------------------------------------------------------------------------------------


def _flag(condition: Q | None) -> Case | Value:
    if condition is None:  # the profile does not narrow by it: every knee matches
        return Value(1, output_field=IntegerField())
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _same_or_worse(timepoint: str, column: str) -> Q:
    """The change is at most 0 in the measure's direction of improvement (within rounding): no better."""
    delta = change(timepoint, column)
    if BY_NAME_COLUMN[column].improvement == "increase":
        return Q(LessThanOrEqual(delta, Value(EPS)))
    return Q(GreaterThanOrEqual(delta, Value(-EPS)))


BY_NAME_COLUMN = {BY_NAME[name].column: BY_NAME[name] for name in MEASURES}


def _aggregates(timepoint: str, today: dt.date) -> dict[str, Any]:
    t = SHORT[timepoint]
    due = is_due(timepoint, today)
    thresholds = get_thresholds()
    out: dict[str, Any] = {
        "due": Count("pk", filter=due),
        "heard": Count("pk", filter=due & Q(**{f"{t}_status": FollowUpStatus.COMPLETED})),
        "first_on": Min("b_due", filter=due),
        "last_on": Max("b_due", filter=due),
        # Responders and decided knees in one sum (expressions.responder_tally, restricted to the knees due).
        "resp": Sum(oarsi_responder(timepoint, pain=RESPONDER_PAIN) * Value(RESPONDER_WEIGHT) + Value(1), filter=due),
    }
    for name in MEASURES:
        m = BY_NAME[name]
        delta = change(timepoint, m.column)
        out |= {
            f"{m.column}_n": Count(delta, filter=due),
            f"{m.column}_s": Sum(delta, filter=due, output_field=FloatField()),
            f"{m.column}_ss": Sum(delta * delta, filter=due, output_field=FloatField()),
            f"{m.column}_mcid": Count("pk", filter=due & Q(reaches_mcid(timepoint, m.column, thresholds[m.mcid_key]))),
            f"{m.column}_worse": Count("pk", filter=due & _same_or_worse(timepoint, m.column)),
        }
    return out


def _cells(plan_ids, products: Sequence[str] | None, profile: KneeProfile, timepoint: str, today: dt.date):
    """The knees due, by product, "same KL band" and "same age band": counts only, enough to choose each option's
    level (the figures are aggregated afterwards over the chosen groups alone, by ``_group_totals``)."""
    if plan_ids is None:
        return []
    band, ages = kl_band(profile.kl_grade), _age_range(profile.age)
    rows = plan_outcomes.summary_rows(plan_ids)
    if products is not None:
        rows = rows.filter(product__in=products)
    grouping = {
        "prod": F("product"),
        "same_kl": _flag(None if band is None else Q(kl_grade__in=KL_BANDS[band])),
        "same_age": _flag(None if ages is None else Q(age_at_injection__gte=ages[0], age_at_injection__lte=ages[1])),
    }
    return list(rows.values(**grouping).annotate(due=Count("pk", filter=is_due(timepoint, today))).order_by())


_ADDITIVE = (
    "due",
    "heard",
    "resp",
    *(f"{BY_NAME[n].column}_{k}" for n in MEASURES for k in ("n", "s", "ss", "mcid", "worse")),
)


def _group_totals(group_ids, timepoint: str, today: dt.date) -> dict[str, dict[str, Any]]:
    """Every figure of the summary rows, per option, over its reference group (all of them due): one grouped
    query over the group table."""
    if group_ids is None:
        return {}
    rows = (
        plan_outcomes.summary_rows(group_ids)
        .values(prod=F("product"))
        .annotate(**_aggregates(timepoint, today), clinics=Count("clinic_id", distinct=True))
        .order_by()
    )
    totals = {}
    for row in rows:
        totals[row.pop("prod")] = row | {key: row[key] or 0 for key in _ADDITIVE}
    return totals


# --- Widening --------------------------------------------------------------------------------------------------


def _levels(profile: KneeProfile) -> list[tuple[str, Any, str | None]]:
    """(name, which cells, the step taken to reach it) from the narrowest to the widest group."""
    band, ages = kl_band(profile.kl_grade), _age_range(profile.age)
    levels: list[tuple[str, Any, str | None]] = [("same", lambda c: c["same_kl"] and c["same_age"], None)]
    if ages is not None:
        levels.append(("any age", lambda c: c["same_kl"], f"No age limit: too few knees aged {age_band(profile.age)}."))
    if band is not None:
        step = f"All KL grades: too few knees with {KL_BAND_LABELS[band]}."
        levels.append(("any grade", lambda c: True, step))
    return levels


def _plain(product: str) -> str:
    return PLAIN_NAMES.get(product, str(Product(product).label) if product in Product.values else product)


def _group(profile: KneeProfile, product: str, level: str) -> dict[str, Any]:
    band = kl_band(profile.kl_grade) if level in ("same", "any age") else None
    ages = age_band(profile.age) if level == "same" and profile.age is not None else None
    return {"product": product, "kl_band": band, "age_band": ages or None}


def _group_condition(profile: KneeProfile, product: str, level: str, timepoint: str, today: dt.date) -> Q:
    """The reference group of an option at its level, as a condition on summary rows."""
    group = _group(profile, product, level)
    condition = is_due(timepoint, today) & Q(product=product)
    if group["kl_band"]:
        condition &= Q(kl_grade__in=KL_BANDS[group["kl_band"]])
    if group["age_band"]:
        low, high = _age_range(profile.age)
        condition &= Q(age_at_injection__gte=low, age_at_injection__lte=high)
    return condition


@contextmanager
def _cohort(plans: QuerySet):
    """The reader's plan ids in a temporary table (aggregates.cohort_table), or None when they may see none at all
    (signed out: the scoped queryset cannot even be written as SQL)."""
    try:
        plans.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        yield None
        return
    # The scoping subquery (the reader's clinics) is estimated at a clinic or so whatever the reader may see, and
    # the planner then probes the plans, and their first injections, one by one through their indexes: at 100,000
    # injections hashing them is about a third quicker (`make bench`, step expectation).
    with aggregates.cohort_table(plans, table=_COHORT_TABLE, hash_joins=True) as plan_ids:
        yield plan_ids


@contextmanager
def _group_table(cohort_ids, conditions: Mapping[str, Q]):
    """Every option's reference group (plan_id, product) in one temporary table, analysed, read by the per-option
    queries below: a one-table filter the planner estimates well (a subquery of several conditions on the summary
    rows it could misjudge badly, e.g. on a table not analysed since a bulk load). Yields product -> plan ids."""
    if not conditions:
        yield None
        return
    condition = reduce(operator.or_, conditions.values())
    rows = plan_outcomes.summary_rows(cohort_ids).filter(condition).values("plan_id", "product")
    sql, params = rows.query.sql_with_params()
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_GROUP_TABLE}")
        if postgresql:
            # Several conditions on the summary rows multiply into an estimate of a row or two, and a nested loop
            # over the cohort that took seconds at 24,000 plans; hashing the cohort is right at any size.
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"CREATE TEMPORARY TABLE {_GROUP_TABLE} AS {sql}", params)
        if postgresql:
            cursor.execute("RESET enable_nestloop")
            cursor.execute(f"ANALYZE {_GROUP_TABLE}")
        try:
            yield RawSQL(f"SELECT plan_id FROM {_GROUP_TABLE}", ())  # noqa: S608, S611 - a constant
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {_GROUP_TABLE}")


# --- The service -----------------------------------------------------------------------------------------------


def expectation(
    plans: QuerySet,
    profile: KneeProfile,
    *,
    options: Sequence[str] | None = None,
    timepoint: str = "6m",
    today: dt.date | None = None,
    minimum: int | None = None,
) -> dict[str, Any]:
    """What knees like ``profile``'s did after each option, from ``plans`` (TreatmentPlans the reader may see:
    outcomes.analysis.cohort.cohort(user), or a clinic's cohort). ``options``: the products side by side (default:
    the profile's product first, then every other product in ``plans``), all with the same rules, denominators and
    timepoint. Figures are protected for a patient's eyes (see the module's notes). Raises ValueError on a bad
    profile, product or timepoint."""
    _check(profile, options, timepoint)
    today = today or timezone.localdate()
    k = _minimum(minimum)
    plan_outcomes.refresh()  # plans changed since their summary row was built (usually none)
    label = str(Timepoint(timepoint).label)
    # The reader's plans are worked out once, into a temporary table every query below reads.
    with _cohort(plans) as plan_ids:
        cells = _cells(plan_ids, list(options) if options is not None else None, profile, timepoint, today)
        if options is None:
            present = {c["prod"] for c in cells if c["prod"]}
            first = [profile.product] if profile.product else []
            options = [*first, *(p for p in Product.values if p in present and p not in first)]
        chosen = {
            product: _choose(profile, [c for c in cells if c["prod"] == product], k)
            for product in dict.fromkeys(options)
        }
        conditions = {
            product: _group_condition(profile, product, level, timepoint, today)
            for product, (level, _) in chosen.items()
            if level is not None
        }
        with _group_table(plan_ids, conditions) as group_ids:
            totals = _group_totals(group_ids, timepoint, today)
            extras = _group_extras(group_ids)
            compared = [
                _option(profile, product, level, steps, totals.get(product), extras, label, k)
                for product, (level, steps) in chosen.items()
            ]
    return {
        "as_of": today.isoformat(),
        "timepoint": timepoint,
        "timepoint_label": label,
        "minimum": k,
        "profile": {
            "kl_grade": profile.kl_grade,
            "kl_band": kl_band(profile.kl_grade),
            "age": profile.age,
            "age_band": age_band(profile.age) or None,
            "product": profile.product,
        },
        "definitions": _definitions(),
        "without_injection": WITHOUT_INJECTION,
        "update_policy": UPDATE_POLICY,
        "options": compared,
    }


def _minimum(requested: int | None) -> int:
    return minimum(requested)


def _definitions() -> list[dict[str, str]]:
    thresholds = get_thresholds()
    improved = "; ".join(
        f"{BY_NAME[n].label} at least {thresholds[BY_NAME[n].mcid_key].value:g} points better" for n in MEASURES
    )
    terms = [
        ("Due", "knees whose questionnaire at this time point was due (answered, missed, or overdue)."),
        ("Compared", "knees with a score before the injection and at this time point."),
        ("Improved", f"by at least the minimal clinically important difference ({improved})."),
        ("The same or worse", "a change of 0 or less."),
        ("OMERACT-OARSI responders", "by KOOS Pain, KOOS ADL and the patient's global rating, of knees it decides."),
        ("Adverse events", "per 100 given injections of these knees, with exact (Clopper-Pearson) 95% intervals."),
        ("Further treatment", "another injection or an operation reported at any time since, up to today."),
        ("Intervals", "shares with Wilson 95% intervals; mean changes with t-based 95% intervals."),
    ]
    return [{"term": term, "text": text} for term, text in terms]


def _choose(profile: KneeProfile, cells: list[dict], k: int) -> tuple[str | None, list[str]]:
    """The narrowest level with at least k knees due and the steps taken to reach it; (None, every step) when even
    the widest has too few."""
    steps: list[str] = []
    for name, matches, step in _levels(profile):
        if step:
            steps.append(step)
        if sum(c["due"] for c in cells if matches(c)) >= k:
            return name, steps
    return None, steps


def _option(profile, product, level, steps, total, extras, label, k) -> dict[str, Any]:
    base = {"product": product, "label": str(Product(product).label), "name": _plain(product)}
    if level is None or total is None:
        message = NOT_ENOUGH.format(minimum=k, name=_plain(product), timepoint=label)
        widened = [name for name, _, step in _levels(profile) if step in steps]
        return {**base, "enough": False, "steps": steps, "widened": widened, "message": message}
    figures = _figures(total, extras, product)
    _protect(figures, k)
    widened = [name for name, _, step in _levels(profile) if step in steps]
    group = _group(profile, product, level)
    group |= {
        "kl_band_label": KL_BAND_LABELS[group["kl_band"]] if group["kl_band"] else "any KL grade",
        "age_band_label": f"aged {group['age_band']}" if group["age_band"] else "any age",
        "clinics": total["clinics"],
        "first_month": total["first_on"].strftime("%Y-%m") if total["first_on"] else None,
        "last_month": total["last_on"].strftime("%Y-%m") if total["last_on"] else None,
        "period": _period(total["first_on"], total["last_on"]),
    }
    heard_pct = 100.0 * total["heard"] / total["due"]
    caution = CAUTION if heard_pct < COMPLETION_CAUTION_BELOW else None
    if figures["due"]["n"] is None and figures["heard_back"]["n"] is not None:  # the number due is a range
        widest = 100.0 * total["heard"] / (total["heard"] + k - 1)
        caution = CAUTION_RANGE if widest < COMPLETION_CAUTION_BELOW else None
    return {
        **base,
        "enough": True,
        "steps": steps,
        "widened": widened,
        "group": group,
        **figures,
        "caution": caution,
    }


def _period(first: dt.date | None, last: dt.date | None) -> str:
    if first is None or last is None:
        return ""
    a, b = first.strftime("%B %Y"), last.strftime("%B %Y")
    return a if a == b else f"{a} to {b}"


# --- Figures ---------------------------------------------------------------------------------------------------


def _figures(total: Mapping[str, Any], extras: Mapping[str, Any], product: str) -> dict[str, Any]:
    due, heard = int(total["due"]), int(total["heard"])
    thresholds = get_thresholds()
    measures = []
    for name in MEASURES:
        m = BY_NAME[name]
        n = int(total[f"{m.column}_n"])
        measures.append(
            {
                "measure": name,
                "label": m.label,
                "reading": m.reading,
                "maximum": m.maximum,
                "mcid": thresholds[m.mcid_key].value,
                "compared": {"n": n},
                "improved": share(total[f"{m.column}_mcid"], n).as_dict(),
                "same_or_worse": share(total[f"{m.column}_worse"], n).as_dict(),
                "change": mean_ci(n, total[f"{m.column}_s"], total[f"{m.column}_ss"]).as_dict() | {"suppressed": []},
            }
        )
    responders, decided = responder_counts(total["resp"])
    return {
        "due": {"n": due},
        "heard_back": share(heard, due).as_dict(),
        "measures": measures,
        "responders": share(responders, decided).as_dict(),
        "adverse_events": _adverse_events(extras["events"], product),
        "further_treatment": _further_treatment(extras["further"].get(product, {}), due),
    }


def _group_extras(group_ids) -> dict[str, Any]:
    """What every option's group adds beside the summary rows, for all the groups at once (each plan is in one
    group: its product's): given injections and adverse events by seriousness (outcomes.analysis.adverse_events,
    two grouped queries), and knees with further treatment, any and per kind (one grouped query)."""
    if group_ids is None:
        return {"events": adverse_events.per_plan_product([]), "further": {}}
    kinds = FurtherTreatmentKind.values
    counted = (
        FurtherTreatment.objects.filter(plan_id__in=group_ids)
        .values("plan__product")
        .annotate(
            any=Count("plan_id", distinct=True),
            **{f"kind_{value}": Count("plan_id", distinct=True, filter=Q(kind=value)) for value in kinds},
        )
        .order_by()
    )
    return {
        "events": adverse_events.per_plan_product(group_ids),
        "further": {row.pop("plan__product"): row for row in counted},
    }


def _adverse_events(by_product: Mapping[str, Mapping[str, int]] | None, product: str) -> dict[str, Any]:
    """Events per 100 given injections of the group's plans, by seriousness (a plan's injections may name another
    product than its own: they count under the plan's)."""
    from outcomes.analysis.stats import clopper_pearson

    if by_product is None:
        return {"available": False, "note": adverse_events.UNAVAILABLE, "rows": []}
    found = by_product.get(product, {})
    injections = found.get("injections", 0)
    rows = []
    for seriousness in ("Non-serious", "Serious"):
        events = found.get(seriousness, 0)
        interval = clopper_pearson(events, injections) if injections and events <= injections else None
        rows.append(
            {
                "seriousness": seriousness,
                "events": events,
                "injections": injections,
                "per_100": 100.0 * events / injections if injections else None,
                "ci_low": 100.0 * interval[0] if interval else None,
                "ci_high": 100.0 * interval[1] if interval else None,
            }
        )
    return {"available": True, "note": adverse_events.NOTE, "rows": rows}


def _further_treatment(counted: Mapping[str, int], due: int) -> dict[str, Any]:
    """Knees of the group with any further treatment reported, and per kind."""
    return {
        "any": share(counted.get("any", 0), due).as_dict(),
        "kinds": [
            {"kind": value, "label": str(text), "knees": counted[f"kind_{value}"]}
            for value, text in FurtherTreatmentKind.choices
            if counted.get(f"kind_{value}")
        ],
    }


# --- Small numbers ---------------------------------------------------------------------------------------------

_SHARE_DERIVED = ("pct", "ci_low", "ci_high")


def _protect(figures: dict[str, Any], k: int) -> None:
    """Withhold, in place, every figure describing 1 to k - 1 knees and every one that would give such a figure
    away by subtraction (see the module's notes), then add a ``<field>_text`` to every count: the number, "fewer
    than k" or "withheld"."""
    r = disclosure.Release(k)
    counts: list[tuple[tuple, dict, str]] = []  # (cell, holder, field) of every printed count

    def cell(key: tuple, holder: dict | None, field: str, count: int) -> tuple:
        ident = r.cell(key, count, [(holder, (field,))] if holder is not None else (), published=holder is not None)
        if holder is not None:
            counts.append((ident, holder, field))
        return ident

    def hidden(key: tuple, count: int) -> tuple:
        return r.cell(key, count, published=False)

    heard = figures["heard_back"]
    due = cell(("due",), figures["due"], "n", figures["due"]["n"])
    counts.append((due, heard, "N"))
    y = cell(("heard",), heard, "n", heard["n"])
    r.relate(due, [y, hidden(("not heard",), heard["N"] - heard["n"])])
    for m in figures["measures"]:
        name, n = m["measure"], m["compared"]["n"]
        compared = cell(("compared", name), m["compared"], "n", n)
        for holder in (m["improved"], m["same_or_worse"]):
            counts.append((compared, holder, "N"))
        r.cells[compared].places.append((m["change"], ("n", "mean", "sd", "ci_low", "ci_high")))
        r.relate(y, [compared, hidden(("not compared", name), heard["n"] - n)])
        better = cell(("improved", name), m["improved"], "n", m["improved"]["n"])
        worse = cell(("same or worse", name), m["same_or_worse"], "n", m["same_or_worse"]["n"])
        rest = hidden(("improved less", name), n - m["improved"]["n"] - m["same_or_worse"]["n"])
        r.relate(compared, [better, worse, rest])
    resp = figures["responders"]
    decided = cell(("decided",), resp, "N", resp["N"])
    r.relate(y, [decided, hidden(("undecided",), heard["n"] - resp["N"])])
    r.relate(decided, [cell(("responders",), resp, "n", resp["n"]), hidden(("not responders",), resp["N"] - resp["n"])])
    further = figures["further_treatment"]
    counts.append((due, further["any"], "N"))
    any_ = cell(("further",), further["any"], "n", further["any"]["n"])
    r.relate(due, [any_, hidden(("no further",), further["any"]["N"] - further["any"]["n"])])
    if further["kinds"]:
        # The kinds add up to the knees with any when no knee had two (a reader may guess so): a relation.
        kinds_total = sum(kind["knees"] for kind in further["kinds"])
        summed = hidden(("kinds added up",), kinds_total)
        r.relate(summed, [cell(("kind", kind["kind"]), kind, "knees", kind["knees"]) for kind in further["kinds"]])
        r.relate(summed, [any_, hidden(("knees with two kinds",), kinds_total - further["any"]["n"])])
    injections = []
    for row in figures["adverse_events"]["rows"]:
        cell(("events", row["seriousness"]), row, "events", row["events"])
        injections.append(cell(("injections",), row, "injections", row["injections"]))
    # Fewer than k not heard back: the number treated is given as a range rather than the number heard back, who
    # are the denominator of every outcome figure (withholding it would withhold them all).
    if r.is_small(heard["N"] - heard["n"]) and not r.is_small(heard["n"]):
        r.cells[due].hidden = True
    r.protect()
    if r.cells[due].hidden:
        # One injection a knee (the usual case) makes the injections the number due: withheld with it, and with
        # them the rates and intervals (_apply). Hiding one more cell after the audit only tells a reader less.
        for ident in injections:
            r.cells[ident].hidden = True
    _apply(r, counts, k)
    for row in figures["adverse_events"]["rows"]:
        if row["injections"] is None and row["injections_text"] == "withheld":
            row["injections_text"] = WITHHELD_INJECTIONS
    if r.cells[due].hidden and not r.cells[y].hidden:
        shown = f"{heard['n'] + 1} to {heard['n'] + k - 1}"  # what a reader knows: 1 to k - 1 not heard back
        for holder, field in ((figures["due"], "n"), (heard, "N"), (further["any"], "N")):
            holder[f"{field}_text"] = shown


def _apply(r: disclosure.Release, counts: list[tuple[tuple, dict, str]], k: int) -> None:
    for ident, holder, field in counts:
        c = r.cells[ident]
        holder.setdefault("suppressed", [])
        if not c.hidden:
            holder[f"{field}_text"] = str(c.count)
            continue
        holder[f"{field}_text"] = f"fewer than {k}" if r.is_small(c.count) else "withheld"
        withheld = [field]
        if field in ("n", "N") and "pct" in holder:
            withheld += _SHARE_DERIVED
        if field in ("events", "injections"):
            withheld += ["per_100", "ci_low", "ci_high"]
        for name in withheld:
            holder[name] = None
        holder["suppressed"] = sorted({*holder["suppressed"], *withheld})
    # A mean goes with its n (the compared knees): withheld with it.
    for c in r.cells.values():
        if c.hidden:
            for holder, fields in c.places:
                if "mean" in fields:
                    for name in fields:
                        holder[name] = None
                    holder["suppressed"] = list(fields)


# --- Plain words ------------------------------------------------------------------------------------------------
# A patient's lines, in the active language (the patient's copy is built under the patient's; staff pages read the
# English msgids). Every sentence is one whole message: Welsh mutates a noun after some words and has its own plural
# forms, so no sentence is glued from translated pieces, and two sentences that differ only in a noun (pain or knee
# score, the kind of further treatment) are two messages. Only the product's name, the timepoint and the months are
# put into a sentence.


@dataclass(frozen=True)
class _Line:
    """The wordings of one count's sentence: with its share, without it (withheld, or none), and with the count
    itself withheld (so that a small one cannot be worked out). A plural message (ngettext_lazy) takes its number
    from the key "number"."""

    count: Any
    withheld: Any
    share: Any = None


# Per measure: too few compared, compared withheld, the mean change, then each direction's count sentences, as
# (of those heard back, of the fewer who gave a score before and after).
_MEASURE_LINES = {
    "koos.pain": {
        "too_few": gettext_noop("Too few gave a pain score before and after to say how it changed."),
        "withheld": gettext_noop("To keep people private, we do not show how the pain score changed."),
        "change": gettext_noop(
            "On average, the pain score changed by %(mean)s points on a scale of 0 to %(maximum)s (likely between "
            "%(low)s and %(high)s). Higher is better."
        ),
        "improved": (
            _Line(
                share=gettext_noop(
                    "%(count)s of those %(total)s (%(pct)s%%, likely between %(low)s%% and %(high)s%%) had clearly "
                    "less pain at %(when)s."
                ),
                count=gettext_noop("%(count)s of those %(total)s had clearly less pain at %(when)s."),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of those %(total)s had clearly less pain at "
                    "%(when)s."
                ),
            ),
            _Line(
                share=gettext_noop(
                    "%(count)s of the %(total)s who gave a pain score before and after (%(pct)s%%, likely between "
                    "%(low)s%% and %(high)s%%) had clearly less pain at %(when)s."
                ),
                count=gettext_noop(
                    "%(count)s of the %(total)s who gave a pain score before and after had clearly less pain at "
                    "%(when)s."
                ),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of the %(total)s who gave a pain score before "
                    "and after had clearly less pain at %(when)s."
                ),
            ),
        ),
        "same_or_worse": (
            _Line(
                share=gettext_noop(
                    "%(count)s of those %(total)s (%(pct)s%%, likely between %(low)s%% and %(high)s%%) had the same "
                    "pain or more."
                ),
                count=gettext_noop("%(count)s of those %(total)s had the same pain or more."),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of those %(total)s had the same pain or more."
                ),
            ),
            _Line(
                share=gettext_noop(
                    "%(count)s of the %(total)s who gave a pain score before and after (%(pct)s%%, likely between "
                    "%(low)s%% and %(high)s%%) had the same pain or more."
                ),
                count=gettext_noop(
                    "%(count)s of the %(total)s who gave a pain score before and after had the same pain or more."
                ),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of the %(total)s who gave a pain score before "
                    "and after had the same pain or more."
                ),
            ),
        ),
    },
    "oks.total": {
        "too_few": gettext_noop("Too few gave a knee score before and after to say how it changed."),
        "withheld": gettext_noop("To keep people private, we do not show how the knee score changed."),
        "change": gettext_noop(
            "On average, the knee score changed by %(mean)s points on a scale of 0 to %(maximum)s (likely between "
            "%(low)s and %(high)s). Higher is better."
        ),
        "improved": (
            _Line(
                share=gettext_noop(
                    "%(count)s of those %(total)s (%(pct)s%%, likely between %(low)s%% and %(high)s%%) had a "
                    "clearly better knee score at %(when)s."
                ),
                count=gettext_noop("%(count)s of those %(total)s had a clearly better knee score at %(when)s."),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of those %(total)s had a clearly better knee "
                    "score at %(when)s."
                ),
            ),
            _Line(
                share=gettext_noop(
                    "%(count)s of the %(total)s who gave a knee score before and after (%(pct)s%%, likely between "
                    "%(low)s%% and %(high)s%%) had a clearly better knee score at %(when)s."
                ),
                count=gettext_noop(
                    "%(count)s of the %(total)s who gave a knee score before and after had a clearly better knee "
                    "score at %(when)s."
                ),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of the %(total)s who gave a knee score before "
                    "and after had a clearly better knee score at %(when)s."
                ),
            ),
        ),
        "same_or_worse": (
            _Line(
                share=gettext_noop(
                    "%(count)s of those %(total)s (%(pct)s%%, likely between %(low)s%% and %(high)s%%) had the same "
                    "knee score or a worse one."
                ),
                count=gettext_noop("%(count)s of those %(total)s had the same knee score or a worse one."),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of those %(total)s had the same knee score or a "
                    "worse one."
                ),
            ),
            _Line(
                share=gettext_noop(
                    "%(count)s of the %(total)s who gave a knee score before and after (%(pct)s%%, likely between "
                    "%(low)s%% and %(high)s%%) had the same knee score or a worse one."
                ),
                count=gettext_noop(
                    "%(count)s of the %(total)s who gave a knee score before and after had the same knee score or a "
                    "worse one."
                ),
                withheld=gettext_noop(
                    "To keep people private, we do not show how many of the %(total)s who gave a knee score before "
                    "and after had the same knee score or a worse one."
                ),
            ),
        ),
    },
}
_RESPONDERS = _Line(
    share=gettext_noop(
        "%(count)s of %(total)s (%(pct)s%%, likely between %(low)s%% and %(high)s%%) met a common test of a good "
        "response."
    ),
    count=gettext_noop("%(count)s of %(total)s met a common test of a good response."),
    withheld=gettext_noop(
        "To keep people private, we do not show how many of %(total)s met a common test of a good response."
    ),
)
# Side effects, per seriousness: (of the injections given, the injections given withheld, none of them).
_SIDE_EFFECT_LINES = {
    "Serious": (
        _Line(
            count=ngettext_lazy(
                "%(count)s of %(total)s injection led to a serious side effect.",
                "%(count)s of %(total)s injections led to a serious side effect.",
                "number",
            ),
            withheld=ngettext_lazy(
                "To keep people private, we do not show how many of %(total)s injection led to a serious side effect.",
                "To keep people private, we do not show how many of %(total)s injections led to a serious side effect.",
                "number",
            ),
        ),
        ngettext_lazy(
            "%(count)s injection led to a serious side effect.",
            "%(count)s injections led to a serious side effect.",
            "number",
        ),
        gettext_noop("None of the injections led to a serious side effect."),
    ),
    "Non-serious": (
        _Line(
            count=ngettext_lazy(
                "%(count)s of %(total)s injection led to a side effect that was not serious.",
                "%(count)s of %(total)s injections led to a side effect that was not serious.",
                "number",
            ),
            withheld=ngettext_lazy(
                "To keep people private, we do not show how many of %(total)s injection led to a side effect that "
                "was not serious.",
                "To keep people private, we do not show how many of %(total)s injections led to a side effect that "
                "was not serious.",
                "number",
            ),
        ),
        ngettext_lazy(
            "%(count)s injection led to a side effect that was not serious.",
            "%(count)s injections led to a side effect that was not serious.",
            "number",
        ),
        gettext_noop("None of the injections led to a side effect that was not serious."),
    ),
}
_FURTHER_ANY = _Line(
    share=ngettext_lazy(
        "%(count)s of the %(total)s knee (%(pct)s%%, likely between %(low)s%% and %(high)s%%) has had another "
        "treatment so far.",
        "%(count)s of the %(total)s knees (%(pct)s%%, likely between %(low)s%% and %(high)s%%) have had another "
        "treatment so far.",
        "number",
    ),
    count=ngettext_lazy(
        "%(count)s of the %(total)s knee has had another treatment so far.",
        "%(count)s of the %(total)s knees have had another treatment so far.",
        "number",
    ),
    withheld=ngettext_lazy(
        "To keep people private, we do not show how many of the %(total)s knee has had another treatment so far.",
        "To keep people private, we do not show how many of the %(total)s knees have had another treatment so far.",
        "number",
    ),
)
_FURTHER_NONE = ngettext_lazy(
    "None of the %(total)s knee has had another treatment so far.",
    "None of the %(total)s knees has had another treatment so far.",
    "number",
)


# The knees of the group that had each kind of further treatment (a whole sentence per kind).
_KIND_LINES = {
    FurtherTreatmentKind.STEROID_INJECTION: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had a steroid injection.",
            "%(count)s of the %(total)s knees had a steroid injection.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had a steroid injection.",
            "To keep people private, we do not show how many of the %(total)s knees had a steroid injection.",
            "number",
        ),
    ),
    FurtherTreatmentKind.HA_INJECTION: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had a hyaluronic acid injection.",
            "%(count)s of the %(total)s knees had a hyaluronic acid injection.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had a hyaluronic acid injection.",
            "To keep people private, we do not show how many of the %(total)s knees had a hyaluronic acid injection.",
            "number",
        ),
    ),
    FurtherTreatmentKind.PRP_INJECTION: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had a PRP injection.",
            "%(count)s of the %(total)s knees had a PRP injection.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had a PRP injection.",
            "To keep people private, we do not show how many of the %(total)s knees had a PRP injection.",
            "number",
        ),
    ),
    FurtherTreatmentKind.OTHER_INJECTION: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had another kind of injection.",
            "%(count)s of the %(total)s knees had another kind of injection.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had another kind of injection.",
            "To keep people private, we do not show how many of the %(total)s knees had another kind of injection.",
            "number",
        ),
    ),
    FurtherTreatmentKind.ARTHROSCOPY: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had keyhole surgery (arthroscopy).",
            "%(count)s of the %(total)s knees had keyhole surgery (arthroscopy).",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had keyhole surgery (arthroscopy).",
            "To keep people private, we do not show how many of the %(total)s knees had keyhole surgery (arthroscopy).",
            "number",
        ),
    ),
    FurtherTreatmentKind.OSTEOTOMY: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had an operation to realign the leg (osteotomy).",
            "%(count)s of the %(total)s knees had an operation to realign the leg (osteotomy).",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had an operation to realign the "
            "leg (osteotomy).",
            "To keep people private, we do not show how many of the %(total)s knees had an operation to realign the "
            "leg (osteotomy).",
            "number",
        ),
    ),
    FurtherTreatmentKind.PARTIAL_KNEE_REPLACEMENT: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had a partial knee replacement.",
            "%(count)s of the %(total)s knees had a partial knee replacement.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had a partial knee replacement.",
            "To keep people private, we do not show how many of the %(total)s knees had a partial knee replacement.",
            "number",
        ),
    ),
    FurtherTreatmentKind.TOTAL_KNEE_REPLACEMENT: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had a total knee replacement.",
            "%(count)s of the %(total)s knees had a total knee replacement.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had a total knee replacement.",
            "To keep people private, we do not show how many of the %(total)s knees had a total knee replacement.",
            "number",
        ),
    ),
    FurtherTreatmentKind.OTHER_SURGERY: _Line(
        ngettext_lazy(
            "%(count)s of the %(total)s knee had another knee operation.",
            "%(count)s of the %(total)s knees had another knee operation.",
            "number",
        ),
        ngettext_lazy(
            "To keep people private, we do not show how many of the %(total)s knee had another knee operation.",
            "To keep people private, we do not show how many of the %(total)s knees had another knee operation.",
            "number",
        ),
    ),
}
_PLAIN_STEPS = {
    "any age": gettext_noop("We found too few knees of your age, so these numbers include knees of all ages."),
    "any grade": gettext_noop(
        "We found too few knees with arthritis at the same stage, so these numbers include every stage."
    ),
}


def _say(message: Any, values: Mapping[str, Any]) -> str:
    """A message of the tables above in the active language, filled in: a plural one picks its form by "number"."""
    return gettext(message) % values if isinstance(message, str) else message % values


def _number(text: str, k: int) -> tuple[str, int]:
    """A count's ``_text`` (written by _apply and _protect) in the active language, and the number that picks a
    plural form: the count; for "fewer than k", k; for a range ("21 to 29"), its top; for "withheld", k."""
    if text.isdigit():
        return text, int(text)
    below = text.removeprefix("fewer than ")
    if below != text and below.isdigit():
        return gettext("fewer than %(minimum)s") % {"minimum": below}, int(below)
    low, to, high = text.partition(" to ")
    if to and low.isdigit() and high.isdigit():
        return pgettext("a range of numbers", "%(low)s to %(high)s") % {"low": low, "high": high}, int(high)
    return (pgettext("a number not shown", "withheld") if text == "withheld" else text), k


def _count_line(line: _Line, figure: Mapping[str, Any], k: int, field: str = "n", **values: Any) -> str:
    """A count's sentence, "52 of those 84 (62%, ...) had clearly less pain.", the same without the share (or with
    "fewer than 10"), or, for a number withheld so that a small one cannot be worked out, a sentence that says so."""
    text = figure[f"{field}_text"]
    if text == "withheld":
        return _say(line.withheld, values)
    if line.share is not None and figure.get("pct") is not None:
        message = line.share
        values |= {"pct": f"{figure['pct']:.0f}", "low": f"{figure['ci_low']:.0f}", "high": f"{figure['ci_high']:.0f}"}
    else:
        message = line.count
    return capfirst(_say(message, values | {"count": _number(text, k)[0]}))


def _signed(value: float) -> str:
    return f"{value:+.0f}" if round(value) else "0"


def _month(value: str) -> str:
    """The month of "2026-03" as "March 2026", named in the active language."""
    return dateformat.format(dt.date.fromisoformat(f"{value}-01"), "F Y")


def _treated_at(group: Mapping[str, Any]) -> str:
    if not group["period"]:
        return ""
    clinics, first, last = group["clinics"], group["first_month"], group["last_month"]
    if first == last:
        return ngettext(
            "These knees were treated at %(clinics)s clinic, %(month)s.",
            "These knees were treated at %(clinics)s clinics, %(month)s.",
            clinics,
        ) % {"clinics": clinics, "month": _month(first)}
    return ngettext(
        "These knees were treated at %(clinics)s clinic, %(first)s to %(last)s.",
        "These knees were treated at %(clinics)s clinics, %(first)s to %(last)s.",
        clinics,
    ) % {"clinics": clinics, "first": _month(first), "last": _month(last)}


def _option_sentences(option: Mapping[str, Any], when: str, k: int) -> list[str]:
    product = option["product"]
    name = gettext(PLAIN_NAMES[product]) if product in PLAIN_NAMES else option["name"]
    if not option["enough"]:
        return [
            gettext("Not enough data in this registry for %(name)s at %(when)s.") % {"name": name, "when": when},
            ngettext(
                "We do not give numbers from fewer than %(minimum)s knee.",
                "We do not give numbers from fewer than %(minimum)s knees.",
                k,
            )
            % {"minimum": k},
        ]
    heard = option["heard_back"]
    due, due_number = _number(option["due"]["n_text"], k)
    if heard["n_text"] == "withheld":
        lines = [
            gettext("To keep people private, we do not show how many knees treated with %(name)s we heard back from.")
            % {"name": name}
        ]
    else:
        lines = [
            ngettext(
                "Of %(due)s knee like yours treated with %(name)s, we heard back from %(heard)s at %(when)s.",
                "Of %(due)s knees like yours treated with %(name)s, we heard back from %(heard)s at %(when)s.",
                due_number,
            )
            % {"due": due, "name": name, "heard": _number(heard["n_text"], k)[0], "when": when}
        ]
    lines.extend(gettext(_PLAIN_STEPS[step]) for step in option["widened"])
    if heard["n"] is None and heard["n_text"].startswith("fewer"):
        lines.append(gettext("That is too few to say how they did."))
    else:
        for m in option["measures"]:
            words = _MEASURE_LINES[m["measure"]]
            compared = m["compared"]
            if compared["n"] is None:
                lines.append(gettext(words["too_few" if compared["n_text"].startswith("fewer") else "withheld"]))
                continue
            # Of all heard back, or of the fewer who gave a score before and after.
            which, total = (0, heard["n_text"]) if compared["n"] == heard["n"] else (1, compared["n_text"])
            total = _number(total, k)[0]
            lines.append(_count_line(words["improved"][which], m["improved"], k, total=total, when=when))
            lines.append(_count_line(words["same_or_worse"][which], m["same_or_worse"], k, total=total))
            change = m["change"]
            if change["mean"] is not None and change["ci_low"] is not None:
                lines.append(
                    gettext(words["change"])
                    % {
                        "mean": _signed(change["mean"]),
                        "maximum": f"{m['maximum']:g}",
                        "low": _signed(change["ci_low"]),
                        "high": _signed(change["ci_high"]),
                    }
                )
        resp = option["responders"]
        if resp["N"] is None:
            lines.append(gettext("Too few could be judged by a common test of a good response to say more."))
        else:
            lines.append(_count_line(_RESPONDERS, resp, k, total=_number(resp["N_text"], k)[0]))
    adverse = option["adverse_events"]
    if not adverse["available"]:
        lines.append(gettext("Side effects are not recorded in this registry yet."))
    for row in adverse["rows"]:
        given, only_events, none = _SIDE_EFFECT_LINES[row["seriousness"]]
        if row["injections"] is None and row["injections_text"] == WITHHELD_INJECTIONS:
            # No number of injections beside the range of knees (see the module's notes): the events alone.
            events, number = _number(row["events_text"], k)
            lines.append(
                gettext(none)
                if row["events_text"] == "0"
                else capfirst(_say(only_events, {"count": events, "number": number}))
            )
            continue
        injections, number = _number(row["injections_text"], k)
        lines.append(_count_line(given, row, k, "events", total=injections, number=number))
    if any(row["injections_text"] == WITHHELD_INJECTIONS for row in adverse["rows"]):
        lines.append(gettext("To keep people private, we do not show how many injections were given."))
        if row["per_100"] is not None:
            lines.append(
                gettext("That is about %(rate)s in 100 (likely between %(low)s and %(high)s in 100).")
                % {"rate": f"{row['per_100']:.0f}", "low": f"{row['ci_low']:.0f}", "high": f"{row['ci_high']:.0f}"}
            )
    further = option["further_treatment"]
    of_due = {"total": due, "number": due_number}
    if further["any"]["n"] == 0:
        lines.append(_say(_FURTHER_NONE, of_due))
    else:
        lines.append(_count_line(_FURTHER_ANY, further["any"], k, **of_due))
        lines.extend(_count_line(_KIND_LINES[kind["kind"]], kind, k, "knees", **of_due) for kind in further["kinds"])
    if option["caution"]:
        lines.append(gettext(option["caution"]))
    lines.append(_treated_at(option["group"]))
    return [line for line in lines if line]


def _when(result: Mapping[str, Any]) -> str:
    """The timepoint in the active language (the analysis labels it in English)."""
    timepoint = result.get("timepoint")
    return gettext(WHEN[timepoint]) if timepoint in WHEN else str(result["timepoint_label"])


def sentences(result: Mapping[str, Any]) -> list[str]:
    """Plain-language lines for a patient, the same wording for every option (reading grade 8 or lower)."""
    when = _when(result)
    as_of = dt.date.fromisoformat(result["as_of"])
    lines: list[str] = []
    for option in result["options"]:
        lines.extend(_option_sentences(option, when, result["minimum"]))
    lines.append(WITHOUT_INJECTION)
    lines.append(f"These numbers were worked out on {as_of.day} {as_of:%B %Y}. {UPDATE_POLICY}")
    return lines


def option_sentences(result: Mapping[str, Any], option: Mapping[str, Any]) -> list[str]:
    """The plain-language lines of one option of ``result`` (as ``sentences`` words them), for a page that gives
    each option its own heading."""
    return _option_sentences(option, _when(result), result["minimum"])


__all__ = ["KneeProfile", "expectation", "kl_band", "minimum", "option_sentences", "sentences"]

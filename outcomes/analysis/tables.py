"""The summary as tables: each chart's numbers beside it on the page, and the same table as a CSV download.

Built from the summary as its channel releases it (outcomes.analysis.disclosure): exact on the page, protected
in a CSV file, which may leave the clinic. There a withheld number is a blank cell and its row says
"suppressed: yes"; the rule is written at the top of every file. On the page each number a download withholds is
marked (``display_rows(withheld=...)``, given the same table built from the protected summary).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from outcomes.analysis import disclosure
from outcomes.analysis.stats import share
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import Timepoint
from outcomes.models.followup import OUTCOME_TIMEPOINTS
from registry.choices import Product

TIMEPOINT_LABELS = dict(Timepoint.choices)

HIDDEN = "_hidden"  # a row's columns withheld by the protected summary


def min_group_size() -> int:
    return disclosure.minimum()


@dataclass
class Table:
    slug: str
    title: str
    columns: list[tuple[str, str]]  # (key, heading)
    keys: list[str]  # columns that label a row (never withheld)
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    csv_url: str = ""
    withheld: Table | None = None  # on the page: the same table as a download shows it

    def intervals(self) -> dict[str, tuple[str, str]]:
        """A rate's column -> its interval's two columns (a percentage's Wilson, a rate's exact interval): files
        keep them apart; the page prints them in the rate's cell, so the tables still fit beside their charts."""
        keys = {key for key, _ in self.columns}
        out = {}
        for key in keys:
            if key.endswith("ci_low"):
                prefix = key[: -len("ci_low")]
                rate = f"{prefix}pct" if f"{prefix}pct" in keys else "per_100" if not prefix else ""
                if rate in keys and f"{prefix}ci_high" in keys:
                    out[rate] = (key, f"{prefix}ci_high")
        return out

    def page_columns(self) -> list[tuple[str, str]]:
        """The columns as the page shows them: each interval inside its rate's column."""
        intervals = self.intervals()
        folded = {k for pair in intervals.values() for k in pair}
        return [(key, f"{heading} (95% CI)" if key in intervals else heading) for key, heading in self.columns
                if key not in folded]  # fmt: skip

    def display_rows(self) -> list[dict[str, Any]]:
        """Rows as text for the page: numbers rounded for reading, nothing hidden, and each number that a download
        withholds marked (``withheld``: the same table from the protected summary, row for row)."""
        columns = self.page_columns()
        intervals = self.intervals()
        key_index = {i for i, (key, _) in enumerate(columns) if key in self.keys}
        protected = self.withheld.rows if self.withheld is not None else [{} for _ in self.rows]
        out = []
        for row, twin in zip(self.rows, protected, strict=True):
            hidden = twin.get(HIDDEN, set())
            out.append(
                {
                    "cells": [_cell(row, key, intervals.get(key, ()), hidden) for key, _ in columns],
                    "withheld": bool(hidden),
                    "key_index": key_index,
                    "measure": row.get("measure_key", ""),
                    "knees": row.get("knees_key", ""),
                }
            )
        return out

    def csv_rows(self) -> list[list[Any]]:
        """Rows for a file that may leave the clinic (built from the protected summary): withheld numbers are
        blank, and the row says so."""
        out = []
        for row in self.rows:
            hidden = row.get(HIDDEN, set())
            cells = [None if key in hidden else row.get(key) for key, _ in self.columns]
            out.append([*[_csv(v) for v in cells], "yes" if hidden else ""])
        return out


def _cell(row: Mapping[str, Any], key: str, interval: tuple[str, ...], hidden: set[str]) -> dict[str, Any]:
    limits = [row.get(k) for k in interval]
    return {
        "text": _show(row.get(key), key),
        "interval": f"({limits[0]:.1f}–{limits[1]:.1f})" if limits and None not in limits else "",
        "withheld": bool({key, *interval} & hidden),
    }


def _show(value: Any, key: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}%" if key.endswith("pct") else f"{value:.1f}"
    return str(value)


def _csv(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    return "" if value is None else value


def _mean_cols(prefix: str = "") -> list[tuple[str, str]]:
    return [
        (f"{prefix}n", "n"),
        (f"{prefix}mean", "Mean"),
        (f"{prefix}sd", "SD"),
        (f"{prefix}ci_low", "95% CI low"),
        (f"{prefix}ci_high", "95% CI high"),
    ]


def _ci_cols(prefix: str, what: str) -> list[tuple[str, str]]:
    """The Wilson 95% interval beside a percentage (outcomes.analysis.stats.share)."""
    return [(f"{prefix}ci_low", f"{what} 95% CI low (Wilson)"), (f"{prefix}ci_high", f"{what} 95% CI high (Wilson)")]


_ALL_DUE_NOTE = (
    "Missing as non-responder: the same count divided by every plan due at that timepoint (completed, missed or "
    "open past due), counting each without an answer as not reaching it."
)
KNEES = {"same": "Same knees at every timepoint", "all": "All available (different patients at each timepoint)"}


def _all_due_cols(prefix: str, what: str) -> list[tuple[str, str]]:
    """The missing-as-non-responder share beside a complete-case one: n of the plans due, with its interval."""
    heading = f"{what}, missing as non-responder %"
    return [
        (f"{prefix}N", "Due (N)"),
        (f"{prefix}pct", heading),
        *_ci_cols(prefix, heading),
    ]


def _withheld(source: Mapping[str, Any] | None, prefix: str = "", names: Mapping[str, str] | None = None) -> set[str]:
    """The columns of ``source``'s withheld fields (its ``suppressed`` list, only in a protected summary)."""
    names = names or {}
    return {names.get(f, f"{prefix}{f}") for f in (source or {}).get("suppressed", ())}


def _row(values: dict[str, Any], *sources: set[str]) -> dict[str, Any]:
    return {**values, HIDDEN: set().union(*sources)}


def _mean_values(mean: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    mean = mean or {}
    return {f"{prefix}{k}": mean.get(k) for k in ("n", "mean", "sd", "ci_low", "ci_high")}


def _share_values(s: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    s = s or {}
    return {
        f"{prefix}n": s.get("n"),
        f"{prefix}N": s.get("N"),
        f"{prefix}pct": s.get("pct"),
        f"{prefix}ci_low": s.get("ci_low"),
        f"{prefix}ci_high": s.get("ci_high"),
    }


def _completion_table(slug: str, title: str, rows: Iterable[Mapping[str, Any]], label: str | None) -> Table:
    keys = (["group"] if label else []) + ["timepoint"]
    table = Table(
        slug=slug,
        title=title,
        columns=[
            *([("group", label)] if label else []),
            ("timepoint", "Timepoint"),
            ("plans", "Plans"),
            ("due", "Due (denominator)"),
            ("completed", "Completed"),
            ("missed", "Missed"),
            ("open_overdue", "Open, past due"),
            ("not_yet_due", "Not yet due"),
            ("cancelled", "Cancelled"),
            ("not_collected", "Not collected"),
            ("pct", "Completion %"),
            *_ci_cols("", "Completion %"),
        ],
        keys=keys,
        note="Completion = completed / (completed + missed + open past due). Not collected: a baseline that could "
        "not be asked for because the injection was recorded after the baseline could still be answered; it is "
        "counted apart, never as missed, and is not in the denominator.",
    )
    for row in rows:
        groups = row.get("timepoints") or [row]
        for tp in groups:
            table.rows.append(
                _row(
                    {
                        **({"group": row["label"]} if label else {}),
                        "timepoint": tp["label"],
                        **{k: tp[k] for k in ("plans", "due", "completed", "missed", "open_overdue", "not_yet_due")},
                        "cancelled": tp["cancelled"],
                        "not_collected": tp["not_collected"],
                        "pct": tp["completion"]["pct"],
                        "ci_low": tp["completion"].get("ci_low"),
                        "ci_high": tp["completion"].get("ci_high"),
                    },
                    _withheld(tp),
                    _withheld(tp["completion"], names={"n": "completed", "N": "due"}),
                )
            )
    return table


def _scores_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "scores",
        "Mean scores by timepoint",
        [("timepoint", "Timepoint"), ("measure", "Measure"), *_mean_cols()],
        ["timepoint", "measure"],
    )
    for tp in summary["timepoints"]:
        for m in tp["measures"]:
            table.rows.append(
                _row(
                    {"timepoint": tp["label"], "measure": m["label"], **_mean_values(m["score"])}, _withheld(m["score"])
                )
            )
    return table


def _change_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "change",
        "Change from baseline and minimal clinically important difference (MCID)",
        [
            ("timepoint", "Timepoint"),
            ("measure", "Measure"),
            *_mean_cols(),
            ("mcid_threshold", "MCID"),
            ("mcid_n", "Reached MCID (n)"),
            ("mcid_N", "Of (N)"),
            ("mcid_pct", "Reached MCID %"),
            *_ci_cols("mcid_", "Reached MCID %"),
            *_all_due_cols("mcid_due_", "Reached MCID"),
        ],
        ["timepoint", "measure"],
        note="Change = follow-up minus the same plan's baseline. MCID per measure and subscale (thresholds and "
        "sources below), counted in the direction of improvement (VAS pain: a fall). " + _ALL_DUE_NOTE,
    )
    for tp in summary["timepoints"]:
        for m in tp["measures"]:
            if m["change"] is None:
                continue
            threshold = f"{'−' if m['mcid']['direction'] == 'decrease' else '+'}{m['mcid']['threshold']:g}"
            table.rows.append(
                _row(
                    {
                        "timepoint": tp["label"],
                        "measure": m["label"],
                        **_mean_values(m["change"]),
                        "mcid_threshold": threshold,
                        **_share_values(m["mcid"], "mcid_"),
                        **_share_values(m["mcid_all_due"], "mcid_due_"),
                    },
                    _withheld(m["change"]),
                    _withheld(m["mcid"], "mcid_"),
                    _withheld(m["mcid_all_due"], "mcid_due_"),
                )
            )
    return table


def _responders_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "responders",
        "OMERACT-OARSI responders",
        [
            ("timepoint", "Timepoint"),
            ("n", "Responders (n)"),
            ("N", "Of (N)"),
            ("pct", "Responders %"),
            *_ci_cols("", "Responders %"),
            *_all_due_cols("due_", "Responders"),
        ],
        ["timepoint"],
        note="Pain instrument: KOOS Pain only. " + _ALL_DUE_NOTE,
    )
    for tp in summary["timepoints"]:
        if tp["responders"] is not None:
            table.rows.append(
                _row(
                    {
                        "timepoint": tp["label"],
                        **_share_values(tp["responders"], ""),
                        **_share_values(tp["responders_all_due"], "due_"),
                    },
                    _withheld(tp["responders"]),
                    _withheld(tp["responders_all_due"], "due_"),
                )
            )
    return table


def _pass_table(summary: Mapping[str, Any]) -> Table:
    """PASS per timepoint and measure, for all plans and for each compare-by group (products, by default)."""
    table = Table(
        "pass",
        "Patient acceptable symptom state (PASS)",
        [
            ("group", "Group"),
            ("timepoint", "Timepoint"),
            ("measure", "Measure"),
            ("pass_threshold", "PASS"),
            ("pass_n", "In PASS (n)"),
            ("pass_N", "Scored (N)"),
            ("pass_pct", "In PASS %"),
            *_ci_cols("pass_", "In PASS %"),
            *_all_due_cols("pass_due_", "In PASS"),
        ],
        ["group", "timepoint", "measure"],
        note="PASS: the score at the follow-up at or above the threshold (KOOS, OKS), at or below it (VAS pain). "
        + _ALL_DUE_NOTE,
    )
    for group in [{"label": "All plans", "timepoints": summary["timepoints"]}, *summary["groups"]]:
        for tp in group["timepoints"]:
            for m in tp["measures"]:
                if m["pass"] is None:
                    continue
                sign = "≥" if m["pass"]["direction"] == "increase" else "≤"
                table.rows.append(
                    _row(
                        {
                            "group": group["label"],
                            "timepoint": tp["label"],
                            "measure": m["label"],
                            "pass_threshold": f"{sign}{m['pass']['threshold']:g}",
                            **_share_values(m["pass"], "pass_"),
                            **_share_values(m["pass_all_due"], "pass_due_"),
                        },
                        _withheld(group) if "key" in group else set(),
                        _withheld(m["pass"], "pass_"),
                        _withheld(m["pass_all_due"], "pass_due_"),
                    )
                )
    return table


def _change_by_group_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "change_by_group",
        "Change from baseline by group",
        [
            ("group", "Group"),
            ("plans", "Plans"),
            ("knees", "Knees"),
            ("timepoint", "Timepoint"),
            ("measure", "Measure"),
            *_mean_cols(),
        ],
        ["group", "knees", "timepoint", "measure"],
        note=f"{KNEES['same']}: scored at baseline and at every follow-up, so every timepoint describes the same "
        f"patients. {KNEES['all']}: every plan scored at that follow-up and at baseline.",
    )
    for group in summary["groups"]:
        for knees, field_name in (("same", "same_knees"), ("all", "change")):
            for tp in group["timepoints"]:
                for m in tp["measures"]:
                    if m["change"] is None:
                        continue
                    table.rows.append(
                        _row(
                            {
                                "group": group["label"],
                                "plans": group["plans"],
                                "knees": KNEES[knees],
                                "knees_key": knees,
                                "timepoint": tp["label"],
                                "measure": m["label"],
                                "measure_key": m["measure"],
                                **_mean_values(m[field_name]),
                            },
                            _withheld(group),
                            _withheld(m[field_name]),
                        )
                    )
    return table


def _responders_by_kl_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "responders_by_kl",
        "Responders by KL grade",
        [
            ("kl_grade", "KL grade"),
            ("timepoint", "Timepoint"),
            ("resp_n", "Responders (n)"),
            ("resp_N", "Of (N)"),
            ("resp_pct", "Responders %"),
            *_ci_cols("resp_", "Responders %"),
            ("mcid_n", "KOOS Pain MCID (n)"),
            ("mcid_N", "Of (N)"),
            ("mcid_pct", "KOOS Pain MCID %"),
            *_ci_cols("mcid_", "KOOS Pain MCID %"),
            *_all_due_cols("resp_due_", "Responders"),
            *_all_due_cols("mcid_due_", "KOOS Pain MCID"),
        ],
        ["kl_grade", "timepoint"],
        note="Pain instrument: KOOS Pain only. " + _ALL_DUE_NOTE,
    )
    for grade in summary["responders_by_kl"]:
        for tp in grade["timepoints"]:
            table.rows.append(
                _row(
                    {
                        "kl_grade": grade["label"],
                        "timepoint": tp["label"],
                        **_share_values(tp["responders"], "resp_"),
                        **_share_values(tp["mcid_koos_pain"], "mcid_"),
                        **_share_values(tp["responders_all_due"], "resp_due_"),
                        **_share_values(tp["mcid_koos_pain_all_due"], "mcid_due_"),
                    },
                    _withheld(tp["responders"], "resp_"),
                    _withheld(tp["mcid_koos_pain"], "mcid_"),
                    _withheld(tp["responders_all_due"], "resp_due_"),
                    _withheld(tp["mcid_koos_pain_all_due"], "mcid_due_"),
                )
            )
    return table


def _outcome_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The funnel follows a plan through its outcome timepoints; the early safety checks (rows of their own in the
    completion table) are not stages of it."""
    return [row for row in rows if row["timepoint"] in OUTCOME_TIMEPOINTS]


def _funnel_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "funnel",
        "Completion funnel",
        [
            ("stage", "Stage"),
            ("count", "Plans"),
            ("pct", "% of plans in the cohort"),
            *_ci_cols("", "% of plans in the cohort"),
        ],
        ["stage"],
    )
    total = summary["plans"]

    def add(stage: str, count: int | None) -> None:
        # A share of plans goes with its two counts (withheld ones are None in a protected summary), and so does
        # its interval.
        values = share(count, total).as_dict() if total and count is not None else {}
        shown = {k: values.get(k) for k in ("pct", "ci_low", "ci_high")}
        share_cols = {"pct", "ci_low", "ci_high"}
        hidden = {"count"} | share_cols if count is None else share_cols if total is None else set()
        table.rows.append(_row({"stage": stage, "count": count, **shown}, hidden))

    add("Plans in the cohort", total)
    for tp in _outcome_rows(summary["completion"]):
        add(f"{tp['label']}: due", tp["due"])
        add(f"{tp['label']}: completed", tp["completed"])
    return table


def _baseline_by_completion_table(summary: Mapping[str, Any]) -> Table:
    table = Table(
        "baseline_by_completion",
        "Baseline scores of plans that completed a follow-up and of those lost to it",
        [("timepoint", "Follow-up"), ("measure", "Measure"), ("group", "Group"), *_mean_cols()],
        ["timepoint", "measure", "group"],
        note="Lost: missed, or open past its due date. If the lost started worse, later means flatter the results.",
    )
    for row in summary["loss_to_follow_up"]["baseline_by_completion"]:
        for group, label in (("completed", "Completed"), ("lost", "Lost")):
            table.rows.append(
                _row(
                    {
                        "timepoint": row["timepoint_label"],
                        "measure": row["label"],
                        "group": label,
                        **_mean_values(row[group]),
                    },
                    _withheld(row[group]),
                )
            )
    return table


def _adverse_events_table(summary: Mapping[str, Any]) -> Table:
    ae = summary["adverse_events"]
    table = Table(
        "adverse_events",
        "Adverse events per 100 injections",
        [
            ("product", "Product"),
            ("seriousness", "Seriousness"),
            ("events", "Events"),
            ("injections", "Injections"),
            ("per_100", "Per 100 injections"),
            ("ci_low", "Per 100 injections 95% CI low (exact)"),
            ("ci_high", "Per 100 injections 95% CI high (exact)"),
        ],
        ["product", "seriousness"],
        note=ae["note"],
    )
    for row in ae["rows"]:
        table.rows.append(_row({**row, "product": row["label"]}, _withheld(row)))
    return table


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Table]] = {
    "completion": lambda s: _completion_table("completion", "Follow-up completion by timepoint", s["completion"], None),
    "scores": _scores_table,
    "change": _change_table,
    "responders": _responders_table,
    "change_by_group": _change_by_group_table,
    "responders_by_kl": _responders_by_kl_table,
    "pass": _pass_table,
    "funnel": _funnel_table,
    "completion_by_clinic": lambda s: _completion_table(
        "completion_by_clinic", "Completion by clinic", s["loss_to_follow_up"]["by_clinic"], "Clinic"
    ),
    "completion_by_clinician": lambda s: _completion_table(
        "completion_by_clinician",
        "Completion by clinician (first injection)",
        s["loss_to_follow_up"]["by_clinician"],
        "Clinician",
    ),
    "completion_by_product": lambda s: _completion_table(
        "completion_by_product", "Completion by product", s["loss_to_follow_up"]["by_product"], "Product"
    ),
    "baseline_by_completion": _baseline_by_completion_table,
    "adverse_events": _adverse_events_table,
}


def adjusted_table(comparisons: Iterable[Mapping[str, Any]]) -> Table:
    """The adjusted comparison of products (outcomes.analysis.adjusted) beside each product's raw mean change. Shown
    on the page only: its numbers are model estimates over the page's filtered cohort."""
    table = Table(
        "adjusted",
        "Products compared: raw mean change and adjusted difference (ANCOVA)",
        [
            ("timepoint", "Timepoint"),
            ("measure", "Measure"),
            ("product", "Product"),
            ("n", "Knees in model (n)"),
            ("raw", "Raw mean change"),
            ("difference", "Adjusted difference from reference (95% CI)"),
            ("dropped", "Dropped: missing covariate"),
        ],
        ["timepoint", "measure", "product"],
        note="Adjusted: follow-up score regressed on baseline score, KL grade, age, BMI and sex with product "
        "indicators (ordinary least squares); the difference is from the reference product, the one with the most "
        "knees. Complete cases only.",
    )
    labels = dict(TIMEPOINT_LABELS)
    for c in comparisons:
        head = {"timepoint": labels.get(c["timepoint"], c["timepoint"]), "measure": c["label"]}
        if not c["products"]:
            dropped = c["dropped_missing_covariate"]
            table.rows.append(_row({**head, "product": "–", "difference": c["reason"], "dropped": dropped}))
        for p in c["products"]:
            raw = p["raw_change"]
            if p["reference"]:
                difference = "reference"
            else:
                difference = f"{p['difference']:+.1f} ({p['ci_low']:.1f} to {p['ci_high']:.1f})"
            table.rows.append(
                _row(
                    {
                        **head,
                        "product": p["label"],
                        "n": p["n"],
                        "raw": None if raw["mean"] is None else f"{raw['mean']:+.1f}",
                        "difference": difference,
                        "dropped": c["dropped_missing_covariate"],
                    }
                )
            )
        if c["too_few"]:
            products = dict(Product.choices)
            few = ", ".join(str(products.get(p, p)) for p in c["too_few"])
            table.rows.append(_row({**head, "product": few, "difference": "Too few knees to compare"}))
    return table


def build(summary: Mapping[str, Any], *, withheld: Mapping[str, Any] | None = None) -> dict[str, Table]:
    """Every table of ``summary``; given ``withheld`` (the same summary protected), each marks what downloads
    withhold."""
    built = {slug: builder(summary) for slug, builder in BUILDERS.items()}
    if withheld is not None:
        for slug, table in built.items():
            table.withheld = BUILDERS[slug](withheld)
    return built


def suppression_rule() -> str:
    k = min_group_size()
    return (
        f"Small numbers: this file may leave the clinic, so no number in it describes 1 to {k - 1} people (a mean "
        f"is judged by its n, a percentage by its numerator, its denominator and those not in its numerator, a "
        f"rate by its events and injections); such numbers are blank, and so are others from which they could "
        f"be worked back (complementary suppression, across every download). 'suppressed' says where. It "
        f"describes all your clinics' plans: downloads take no filters."
    )


def to_csv(table: Table, summary: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"# {table.title}"])
    writer.writerow([f"# {suppression_rule()}"])
    writer.writerow([f"# All your clinics' plans. As of {summary['as_of']}."])
    if table.note:
        writer.writerow([f"# {table.note}"])
    writer.writerow([*(heading for _, heading in table.columns), "suppressed"])
    writer.writerows(table.csv_rows())
    return buffer.getvalue()


def chart_data(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What static/js/dashboard.js draws; the tables beside each chart hold the same numbers."""
    change = {
        "measures": [{"key": m.column, "label": m.label, "max_change": m.maximum} for m in OUTCOME_MEASURES],
        "timepoints": [tp["label"] for tp in summary["timepoints"]],
        "groups": [
            {
                "label": group["label"],
                "series": {
                    m.column: [_change_point(tp, m.column) for tp in group["timepoints"]] for m in OUTCOME_MEASURES
                },
                # The same knees at every timepoint: the default line (dashboard.js), so a change in the mean is not
                # a change in who answered.
                "same": {m.column: _same_series(group["timepoints"], m.column) for m in OUTCOME_MEASURES},
            }
            for group in summary["groups"]
        ],
        "knees": [{"key": key, "label": label} for key, label in KNEES.items()],
    }
    follow_ups = [tp for tp in summary["timepoints"] if tp["responders"] is not None]
    responders = {
        "labels": [g["label"] for g in summary["responders_by_kl"]],
        "datasets": [
            {
                "label": tp["label"],
                "values": [
                    next(t["responders"] for t in g["timepoints"] if t["timepoint"] == tp["timepoint"])
                    for g in summary["responders_by_kl"]
                ],
            }
            for tp in follow_ups
        ],
    }
    stages = _outcome_rows(summary["completion"])
    funnel = {
        "labels": [tp["label"] for tp in stages],
        "due": [tp["due"] for tp in stages],
        "completed": [tp["completed"] for tp in stages],
        "plans": summary["plans"],
    }
    return {"change": change, "responders": responders, "funnel": funnel}


def _change_point(tp: Mapping[str, Any], measure: str, *, same: bool = False) -> dict[str, Any]:
    m = next(x for x in tp["measures"] if x["measure"] == measure)
    if m["change"] is None:  # baseline: the reference every line starts from
        return {"mean": 0.0 if m["score"]["n"] else None, "low": None, "high": None, "n": m["score"]["n"]}
    c = m["same_knees"] if same else m["change"]
    return {"mean": c["mean"], "low": c["ci_low"], "high": c["ci_high"], "n": c["n"]}


def _same_series(timepoints: list[Mapping[str, Any]], measure: str) -> list[dict[str, Any]]:
    """The change of the knees scored at every timepoint; its baseline point has their n (the same at every point)."""
    points = [_change_point(tp, measure, same=True) for tp in timepoints]
    n = next((p["n"] for tp, p in zip(timepoints, points, strict=True) if tp["timepoint"] != "baseline"), 0)
    for tp, point in zip(timepoints, points, strict=True):
        if tp["timepoint"] == "baseline":
            point.update(mean=0.0 if n else None, n=n)
    return points

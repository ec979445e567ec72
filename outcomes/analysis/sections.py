"""One builder per section of the outcomes summary, each from the cells of outcomes.analysis.aggregates.

Means, SDs and CIs come from the cells' sums (outcomes.analysis.stats); the overall figures, the per-group and
per-KL-grade rows are sums of a few cells, and the loss-to-follow-up tables sums of the status cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model

from outcomes.analysis.aggregates import COMPLETED, LOST, STATUS_KEYS, add, short
from outcomes.analysis.expressions import FOLLOW_UP_TIMEPOINTS, TIMEPOINTS, responder_counts
from outcomes.analysis.stats import mean_ci, share
from outcomes.measures import OUTCOME_MEASURES
from outcomes.models import Timepoint
from outcomes.models.followup import SAFETY_CHECK_TIMEPOINTS
from outcomes.thresholds import get_thresholds
from registry.choices import Product

TIMEPOINT_LABELS = dict(Timepoint.choices)
STAGED_LABELS = {"single": "Single injection", "staged": "Staged plan"}

Cells = list[Mapping[str, Any]]

DEFINITIONS = {
    "unit": "A plan: one knee's course of treatment (one injection, or a staged series), counted from its first "
    "injection. Only given injections, and patients who consent to analysis.",
    "completion": "Completed / (completed + missed + open past its due date). Follow-ups not yet due, cancelled "
    "ones, and baselines not collected because the injection was recorded after the baseline could still be "
    'answered (counted apart as "not collected", never as missed) are not in the denominator. The day 2-3 and '
    "day 10-14 safety checks have rows of their own: they are not outcome timepoints and no score below uses them.",
    "change": "Follow-up score minus the same plan's baseline score; only plans scored at both.",
    "ci": "95 % confidence interval of the mean: mean +/- t(0.975, n-1) x SD / sqrt(n).",
    "mcid": "Share of plans whose change reaches the minimal clinically important difference in the direction of "
    "improvement (a rise for KOOS and OKS, a fall for VAS pain), of the plans with a change.",
    "responder": "OMERACT-OARSI 2004 responders (pain from KOOS Pain only, never the VAS, so one pain instrument "
    "per analysis; function from KOOS ADL; patient global), of the plans the rule can decide.",
    "all_due": "Missing as non-responder (sensitivity): the same count divided by every plan due at that timepoint "
    "(completed, missed, or open past its due date); a plan without an answer, or without the scores the rule needs, "
    "counts as not reaching it. The complete-case share beside it divides by the plans with an answer.",
    "pass": "Patient acceptable symptom state (PASS): share of plans whose score at the follow-up is at or above the "
    "PASS threshold (KOOS, OKS) or at or below it (VAS pain), of the plans scored at that follow-up.",
    "same_knees": "Same knees: only plans scored at baseline, 1 month and 6 months, so those points of the line "
    "describe the same patients (n stated); at 12 and 24 months, those of the same plans scored then too. "
    "All available: every plan scored at that follow-up and at baseline, which are different patients at each "
    "timepoint.",
    "lost": "Lost: the follow-up was missed, or is open past its due date.",
}


# --- thresholds --------------------------------------------------------------------------------------------------


def _threshold(table, key: str) -> dict[str, Any] | None:
    t = table.get(key)
    if t is None:
        return None
    return {"value": t.value, "direction": t.direction, "source": t.source, "arthroplasty": t.arthroplasty}


def thresholds() -> list[dict[str, Any]]:
    """The MCID and PASS of each measure in force, with their sources (``pass`` None where the reference has
    none; ``arthroplasty``: measured in knee-replacement cohorts)."""
    table = get_thresholds()
    return [
        {
            "measure": m.column,
            "label": m.label,
            "value": table[m.mcid_key].value,
            "direction": table[m.mcid_key].direction,
            "source": table[m.mcid_key].source,
            "pass": _threshold(table, m.pass_key),
        }
        for m in OUTCOME_MEASURES
    ]


# --- completion --------------------------------------------------------------------------------------------------


def completion(status_cells: Cells, tp: str) -> dict[str, Any]:
    """Follow-up counts and the completion rate at one timepoint, over the given status cells."""
    s = add([c for c in status_cells if c["tp"] == tp], STATUS_KEYS)
    due = s["completed"] + s["missed"] + s["overdue"]
    return {
        "timepoint": tp,
        "label": TIMEPOINT_LABELS[tp],
        "plans": int(s["plans"]),
        "completed": int(s["completed"]),
        "missed": int(s["missed"]),
        "open_overdue": int(s["overdue"]),
        "not_yet_due": int(s["pending"]),
        "cancelled": int(s["cancelled"]),
        "not_collected": int(s["not_collected"]),
        "due": int(due),
        "completion": share(s["completed"], due).as_dict(),
    }


def completion_by_timepoint(status_cells: Cells) -> list[dict[str, Any]]:
    return [completion(status_cells, tp) for tp in TIMEPOINTS]


def safety_check_completion(safety_check_cells: Cells) -> list[dict[str, Any]]:
    """The early safety checks' completion, as rows after the outcome timepoints' (each keeps its place)."""
    return [completion(safety_check_cells, tp) for tp in SAFETY_CHECK_TIMEPOINTS]


# --- outcomes: scores, changes, MCID and responders ----------------------------------------------------------------


def _mean(s: Mapping[str, float], prefix: str) -> dict[str, Any]:
    return mean_ci(s[f"{prefix}_n"], s[f"{prefix}_s"], s[f"{prefix}_ss"]).as_dict()


def outcomes(s: Mapping[str, float]) -> dict[str, Any]:
    """Scores, changes, MCID and responders per timepoint, from one set of sums."""
    table = get_thresholds()
    timepoints = []
    for tp in TIMEPOINTS:
        t = short(tp)
        entry: dict[str, Any] = {"timepoint": tp, "label": TIMEPOINT_LABELS[tp], "measures": []}
        for m in OUTCOME_MEASURES:
            row: dict[str, Any] = {"measure": m.column, "label": m.label, "score": _mean(s, f"{t}_score_{m.column}")}
            row |= {"change": None, "same_knees": None, "mcid": None, "mcid_all_due": None}
            row |= {"pass": None, "pass_all_due": None}
            if tp in FOLLOW_UP_TIMEPOINTS:
                due = s[f"{t}_due"]
                row["change"] = _mean(s, f"{t}_chg_{m.column}")
                row["same_knees"] = _mean(s, f"{t}_same_{m.column}")
                reached = s[f"{t}_mcid_{m.column}"]
                row["mcid"] = {
                    **share(reached, s[f"{t}_chg_{m.column}_n"]).as_dict(),
                    "threshold": table[m.mcid_key].value,
                    "direction": table[m.mcid_key].direction,
                }
                row["mcid_all_due"] = share(reached, due).as_dict()
                if m.pass_key in table:
                    in_pass = s[f"{t}_pass_{m.column}"]
                    row["pass"] = {
                        **share(in_pass, s[f"{t}_score_{m.column}_n"]).as_dict(),
                        "threshold": table[m.pass_key].value,
                        "direction": table[m.pass_key].direction,
                    }
                    row["pass_all_due"] = share(in_pass, due).as_dict()
            entry["measures"].append(row)
        entry["responders"] = entry["responders_all_due"] = None
        if tp in FOLLOW_UP_TIMEPOINTS:
            entry["due"] = int(s[f"{t}_due"])
            responders, decided = responder_counts(s[f"{t}_resp"])
            entry["responders"] = share(responders, decided).as_dict()
            entry["responders_all_due"] = share(responders, s[f"{t}_due"]).as_dict()
        timepoints.append(entry)
    return {"timepoints": timepoints}


# --- groups (compare by) ---------------------------------------------------------------------------------------


def _sort_key(key) -> tuple:
    return (key is None, str(key) if not isinstance(key, int) else f"{key:09d}")


def group_labeller(compare_by: str, clinics: Mapping[int, str], clinicians: Mapping[int, str]) -> Callable:
    """The label of a compare-by group's key ("KL 3", "Staged plan", a clinic's name...)."""
    products = dict(Product.choices)

    def label(key) -> str:
        if key is None or key == "":
            return "Not recorded"
        if compare_by == "product":
            return str(products.get(key, key))
        if compare_by == "kl_grade":
            return f"KL {key}"
        if compare_by == "staged":
            return STAGED_LABELS.get(key, key)
        if compare_by == "clinic":
            return clinics.get(key, f"Clinic {key}")
        if compare_by == "clinician":
            return clinicians.get(key, f"Clinician {key}")
        return str(key)

    return label


def groups(cells: Cells, keys: Iterable[str], label: Callable[[Any], str]) -> list[dict[str, Any]]:
    """The outcomes of each compare-by group, in the order of their keys."""
    by_group: dict[Any, list] = defaultdict(list)
    for cell in cells:
        by_group[cell["grp"]].append(cell)
    rows = []
    for key in sorted(by_group, key=_sort_key):
        s = add(by_group[key], keys)
        rows.append({"key": str(key), "label": label(key), "plans": int(s["plans"]), **outcomes(s)})
    return rows


# --- responders by KL grade ------------------------------------------------------------------------------------


def _kl_timepoint(s: Mapping[str, float], tp: str) -> dict[str, Any]:
    t = short(tp)
    responders, decided = responder_counts(s[f"{t}_resp"])
    return {
        "timepoint": tp,
        "label": TIMEPOINT_LABELS[tp],
        "due": int(s[f"{t}_due"]),
        "responders": share(responders, decided).as_dict(),
        "responders_all_due": share(responders, s[f"{t}_due"]).as_dict(),
        "mcid_koos_pain": share(s[f"{t}_mcid_koos_pain"], s[f"{t}_chg_koos_pain_n"]).as_dict(),
        "mcid_koos_pain_all_due": share(s[f"{t}_mcid_koos_pain"], s[f"{t}_due"]).as_dict(),
    }


def responders_by_kl(cells: Cells, keys: Iterable[str]) -> list[dict[str, Any]]:
    """OMERACT-OARSI responders and the KOOS Pain MCID per KL grade (plans without a grade left out)."""
    by_kl: dict[Any, list] = defaultdict(list)
    for cell in cells:
        by_kl[cell["kl"]].append(cell)
    rows = []
    for grade in sorted(k for k in by_kl if k is not None):
        s = add(by_kl[grade], keys)
        rows.append(
            {
                "kl_grade": grade,
                "label": f"KL {grade}",
                "plans": int(s["plans"]),
                "timepoints": [_kl_timepoint(s, tp) for tp in FOLLOW_UP_TIMEPOINTS],
            }
        )
    return rows


# --- loss to follow-up -------------------------------------------------------------------------------------------


def clinician_names(ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids).only("pk", "first_name", "last_name", "username")
    return {u.pk: (u.get_full_name() or u.get_username()) for u in users}


def _baseline_by_completion(cells: Cells, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Baseline scores of the plans that completed each follow-up and of those lost to it."""
    rows = []
    for tp in FOLLOW_UP_TIMEPOINTS:
        fate = f"fate_{short(tp)}"
        completed = add([c for c in cells if c[fate] == COMPLETED], keys)
        lost = add([c for c in cells if c[fate] == LOST], keys)
        for m in OUTCOME_MEASURES:
            rows.append(
                {
                    "timepoint": tp,
                    "timepoint_label": TIMEPOINT_LABELS[tp],
                    "measure": m.column,
                    "label": m.label,
                    "completed": _mean(completed, f"b_score_{m.column}"),
                    "lost": _mean(lost, f"b_score_{m.column}"),
                }
            )
    return rows


def loss_to_follow_up(
    status_cells: Cells,
    cells: Cells,
    keys: Iterable[str],
    clinics: Mapping[int, str],
    clinicians: Mapping[int, str],
) -> dict[str, Any]:
    """Completion by clinic, clinician and product, and the baseline scores of those who answered and were lost."""
    products = dict(Product.choices)
    dimensions = {
        "clinic": ("clinic_key", lambda k: clinics.get(k, f"Clinic {k}")),
        "clinician": ("clinician_key", lambda k: clinicians.get(k, f"Clinician {k}")),
        "product": ("prod", lambda k: str(products.get(k, k))),
    }
    loss: dict[str, Any] = {}
    for name, (column, label) in dimensions.items():
        split: dict[Any, list] = defaultdict(list)
        for cell in status_cells:
            split[cell[column]].append(cell)
        loss[f"by_{name}"] = [
            {"key": str(key), "label": label(key), "timepoints": completion_by_timepoint(split[key])}
            for key in sorted(split, key=lambda k: label(k).lower())
        ]
    loss["baseline_by_completion"] = _baseline_by_completion(cells, keys)
    return loss


__all__ = [
    "DEFINITIONS",
    "clinician_names",
    "completion_by_timepoint",
    "group_labeller",
    "groups",
    "loss_to_follow_up",
    "outcomes",
    "responders_by_kl",
    "thresholds",
]

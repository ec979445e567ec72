"""A cohort with small groups on every axis, and an attacker who tries to recover what the exports withhold.

The attacker knows what any reader of the files knows: which file breaks which total down, and the definitions
printed in them (due = completed + missed + open past due; plans = due + not yet due + cancelled; a mean is a sum
over n; a percentage is 100 n / N; MCID's "Of (N)" is the n of the change beside it). From every downloaded file
it writes each published number, and each number left blank, as a variable, and each of those definitions and
breakdowns as a linear equation: a total minus the sum of its visible parts, n-weighted means (n x mean is a sum
that adds up like a count; so is (n - 1) SD^2 + n mean^2, the sum of squares), percentages times their
denominators. Gaussian elimination over all of them at once then finds every blank value that any combination
of rows of any files determines: it subsumes trying every subset of rows and files one by one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from django.urls import reverse

from outcomes.analysis import tables
from outcomes.analysis.filters import COMPARE_BY_CHOICES
from outcomes.models import FollowUpStatus
from registry.choices import Role
from registry.models import Membership
from tests.factories import ClinicFactory, staff
from tests.outcomes.analysis_data import make_plan
from tests.outcomes.test_analysis_statistics import scores
from tests.safety.ae_support import PRP_PROTOCOL

TODAY = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
COMPARE_BY = [value for value, _ in COMPARE_BY_CHOICES]
STATUS_COLUMNS = {
    "Plans": "plans",
    "Due (denominator)": "due",
    "Completed": "completed",
    "Missed": "missed",
    "Open, past due": "open_overdue",
    "Not yet due": "not_yet_due",
    "Cancelled": "cancelled",
}
MEAN_FIELDS = ("n", "mean", "sd", "ci_low", "ci_high")


def small_group_cohort():
    """28 plans in two clinics. North (one clinician): 12 at KL 2, 11 at KL 3 and 2 at KL 4, all BMAC; South (its
    own clinician): 3 PRP plans at KL 3. So the small groups are South, its clinician, PRP and KL 4 (and, inside
    them, counts such as a single missed follow-up). Returns a lead of both clinics, who sees all 28."""
    north, south = ClinicFactory(name="North Knee Clinic"), ClinicFactory(name="South Knee Clinic")
    dr_north = staff(north, Role.CLINICIAN, username="dr_north", first_name="Ann", last_name="North")
    dr_south = staff(south, Role.CLINICIAN, username="dr_south", first_name="Sam", last_name="South")
    lead = staff(north, Role.LEAD, username="lead_both")
    Membership.objects.create(user=lead, clinic=south, role=Role.LEAD)
    later = {"injected_on": dt.date(2026, 6, 1)}  # 6 months not yet due on TODAY
    for i in range(12):
        fates = _fates(i)
        make_plan(north, dr_north, kl_grade=2, scores=_scores(40 + i, i, fates), statuses=fates["statuses"])
    for i in range(11):
        fates = _fates(i + 1)
        make_plan(
            north,
            dr_north,
            kl_grade=3,
            scores=_scores(35 + 2 * i, i, fates),
            statuses=fates["statuses"],
            **(later if i < 3 else {}),
        )
    for i in range(2):
        make_plan(north, dr_north, kl_grade=4, scores=_scores(20 + 7 * i, i, {"6m": True}))
    for i in range(3):
        make_plan(
            south,
            dr_south,
            kl_grade=3,
            product="prp",
            protocol=dict(PRP_PROTOCOL),
            scores=_scores(55 + 9 * i, i, {"6m": i != 1}),
            statuses={"6m": FollowUpStatus.MISSED},
        )
    return lead


def _fates(i: int) -> dict[str, Any]:
    """Varied follow-up fates: most answer, some miss the 1 month or the 6 months, one is cancelled."""
    six = {0: FollowUpStatus.MISSED, 5: FollowUpStatus.CANCELLED}.get(i % 7)
    return {"6m": six is None, "1m": i % 5 != 3, "statuses": {"6m": six} if six else {}}


def _scores(base: int, i: int, fates: Mapping[str, Any]) -> dict[str, dict | None]:
    out: dict[str, dict | None] = {"baseline": scores(base, base + 5, 80 - base // 2, 20 + i % 9, 60)}
    if fates.get("1m", True):
        out["1m"] = scores(base + 8 + i % 4, base + 9, 70 - base // 2, 26 + i % 7, 45)
    if fates.get("6m"):
        out["6m"] = scores(base + 15 + (i * 3) % 11, base + 14, 60 - base // 3, 30 + i % 5, 35)
    return out


# --- What the attacker downloads ----------------------------------------------------------------------------------


def download_everything(client, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every dashboard CSV and the summary API, for every "compare by" choice: what one user can take away with the
    same filters. Keys are (compare_by, file name); values are parsed CSV rows or the API's JSON."""
    files = {}
    for compare_by in COMPARE_BY:
        params = {"compare_by": compare_by, **(extra or {})}
        for slug in tables.BUILDERS:
            response = client.get(reverse("outcomes:dashboard-csv", args=[slug]), params)
            if response.status_code == 200:
                files[(compare_by, slug)] = parse_csv(response.content.decode("utf-8-sig"))
        response = client.get("/api/v1/outcomes/summary/", params)
        if response.status_code == 200:
            files[(compare_by, "api")] = response.json()
    return files


def parse_csv(text: str) -> list[dict[str, str]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    header = rows[0]
    # Two columns may share a heading ("Of (N)"): number the repeats.
    seen: dict[str, int] = defaultdict(int)
    names = []
    for name in header:
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return [dict(zip(names, r, strict=True)) for r in rows[1:]]


# --- Observations: every number as (variable, value or None) --------------------------------------------------


class Observations:
    """Published numbers by variable; None where the file left the cell blank. Also the linear equations the
    attacker knows hold between variables (each a {variable: coefficient} that sums to zero)."""

    def __init__(self):
        self.values: dict[tuple, Fraction | None] = {}
        self.blank: set[tuple] = set()  # left blank in at least one file
        self.equations: list[dict[tuple, Fraction]] = []

    def see(self, var: tuple, value: Any) -> None:
        if value in ("", None):
            self.values.setdefault(var, None)
            self.blank.add(var)
            return
        number = Fraction(str(value))
        if self.values.get(var) is None:
            self.values[var] = number

    def equal(self, total: tuple, parts: Iterable[tuple]) -> None:
        eq = defaultdict(Fraction)
        eq[total] += 1
        for part in parts:
            eq[part] -= 1
        self.equations.append(dict(eq))

    def count(self, key: tuple, value: Any) -> None:
        self.see(("count", *key), value)

    def mean(self, key: tuple, n: Any, mean: Any, sd: Any) -> None:
        """A mean as its additive parts: n, sum, sum of squares (each None when not derivable here)."""
        self.see(("n", *key), n)
        if n not in ("", None) and Fraction(str(n)) == 0:
            self.see(("s", *key), 0)
            self.see(("q", *key), 0)
        elif n not in ("", None) and mean not in ("", None):
            n_, mean_ = Fraction(str(n)), Fraction(str(mean))
            self.see(("s", *key), n_ * mean_)
            if sd not in ("", None) and n_ >= 2:
                self.see(("q", *key), (n_ - 1) * Fraction(str(sd)) ** 2 + n_ * mean_**2)
            elif n_ == 1:
                self.see(("q", *key), mean_**2)
        else:
            self.see(("s", *key), None)
            self.see(("q", *key), None)
        if mean not in ("", None) and (n in ("", None)):
            # A mean without its n still ties the sum to the count: s - mean x n = 0.
            self.equations.append({("s", *key): Fraction(1), ("n", *key): -Fraction(str(mean))})

    def share(self, n_var: tuple, total_var: tuple, pct: Any) -> None:
        if pct not in ("", None):
            self.equations.append({n_var: Fraction(1), total_var: -Fraction(str(pct)) / 100})


def _breakdown(obs: Observations, kind: str, total_key: tuple, part_keys: Iterable[tuple]) -> None:
    part_keys = list(part_keys)
    if not part_keys:
        return
    if kind == "mean":
        for q in ("n", "s", "q"):
            obs.equal((q, *total_key), [(q, *k) for k in part_keys])
    else:
        obs.equal(("count", *total_key), [("count", *k) for k in part_keys])


def observe(files: Mapping[tuple, Any]) -> Observations:
    """Every published number of every file, and every equation the attacker knows."""
    obs = Observations()
    groups_by: dict[str, dict[str, Any]] = defaultdict(dict)  # partition -> label -> True
    for (compare_by, name), content in files.items():
        if name == "api":
            _observe_api(obs, compare_by, content, groups_by)
        else:
            _observe_csv(obs, compare_by, name, content, groups_by)
    _equations(obs, groups_by)
    return obs


def _completion_row(obs: Observations, tp: str, dim: str, group: str, cells: Mapping[str, Any], pct: Any) -> None:
    for column, value in cells.items():
        obs.count(("completion", tp, dim, group, column), value)
    key = ("completion", tp, dim, group)
    obs.share(("count", *key, "completed"), ("count", *key, "due"), pct)


def _observe_csv(obs, compare_by, name, rows, groups_by) -> None:
    for row in rows:
        if name in ("completion", "completion_by_clinic", "completion_by_clinician", "completion_by_product"):
            dim = {"completion": "all"}.get(name, name.removeprefix("completion_by_"))
            group = row.get({"clinic": "Clinic", "clinician": "Clinician", "product": "Product"}.get(dim, ""), "all")
            if dim != "all":
                groups_by[dim][group] = True
            cells = {STATUS_COLUMNS[c]: row[c] for c in STATUS_COLUMNS}
            _completion_row(obs, row["Timepoint"], dim, group, cells, row["Completion %"])
        elif name == "funnel":
            stage, count = row["Stage"], row["Plans"]
            if stage == "Plans in the cohort":
                obs.count(("plans", "all", "all"), count)
                total = ("count", "plans", "all", "all")
            else:
                tp, what = stage.split(": ")
                obs.count(("completion", tp, "all", "all", what), count)
                obs.share(("count", "completion", tp, "all", "all", what), total, row["% of plans in the cohort"])
        elif name == "scores":
            obs.mean(("score", row["Timepoint"], row["Measure"], "all", "all"), row["n"], row["Mean"], row["SD"])
        elif name == "change":
            key = (row["Timepoint"], row["Measure"], "all", "all")
            obs.mean(("change", *key), row["n"], row["Mean"], row["SD"])
            obs.see(("n", "change", *key), row["Of (N)"])
            obs.count(("mcid", *key), row["Reached MCID (n)"])
            obs.share(("count", "mcid", *key), ("n", "change", *key), row["Reached MCID %"])
            _all_due(obs, ("count", "mcid", *key), row["Timepoint"], "all", "all", row, "Reached MCID")
        elif name == "change_by_group":
            group = row["Group"]
            groups_by[compare_by][group] = True
            obs.count(("plans", compare_by, group), row["Plans"])
            what = "same" if row["Knees"].startswith("Same") else "change"
            key = (what, row["Timepoint"], row["Measure"], compare_by, group)
            obs.mean(key, row["n"], row["Mean"], row["SD"])
        elif name == "responders":
            key = (row["Timepoint"], "all", "all")
            obs.count(("resp", *key), row["Responders (n)"])
            obs.count(("resp_N", *key), row["Of (N)"])
            obs.share(("count", "resp", *key), ("count", "resp_N", *key), row["Responders %"])
            _all_due(obs, ("count", "resp", *key), row["Timepoint"], "all", "all", row, "Responders")
        elif name == "responders_by_kl":
            group = row["KL grade"]
            groups_by["kl_grade"][group] = True
            key = (row["Timepoint"], "kl_grade", group)
            obs.count(("resp", *key), row["Responders (n)"])
            obs.count(("resp_N", *key), row["Of (N)"])
            obs.share(("count", "resp", *key), ("count", "resp_N", *key), row["Responders %"])
            _all_due(obs, ("count", "resp", *key), row["Timepoint"], "kl_grade", group, row, "Responders")
            pain = (row["Timepoint"], "KOOS Pain", "kl_grade", group)
            obs.count(("mcid", *pain), row["KOOS Pain MCID (n)"])
            obs.see(("n", "change", *pain), row["Of (N) #2"])
            obs.share(("count", "mcid", *pain), ("n", "change", *pain), row["KOOS Pain MCID %"])
            _all_due(obs, ("count", "mcid", *pain), row["Timepoint"], "kl_grade", group, row, "KOOS Pain MCID", 2)
        elif name == "pass":
            dim, group = ("all", "all") if row["Group"] == "All plans" else (compare_by, row["Group"])
            key = (row["Timepoint"], row["Measure"], dim, group)
            obs.count(("pass", *key), row["In PASS (n)"])
            obs.see(("n", "score", *key), row["Scored (N)"])
            obs.share(("count", "pass", *key), ("n", "score", *key), row["In PASS %"])
            _all_due(obs, ("count", "pass", *key), row["Timepoint"], dim, group, row, "In PASS")
        elif name == "baseline_by_completion":
            key = ("baseline_of", row["Follow-up"], row["Measure"], row["Group"])
            obs.mean(key, row["n"], row["Mean"], row["SD"])
        elif name == "adverse_events":
            obs.count(("ae_events", row["Product"], row["Seriousness"]), row["Events"])
            obs.count(("ae_injections", row["Product"]), row["Injections"])
            obs.share(
                ("count", "ae_events", row["Product"], row["Seriousness"]),
                ("count", "ae_injections", row["Product"]),
                row["Per 100 injections"],
            )


def _due(tp: str, dim: str, group: str) -> tuple:
    """Plans due at a follow-up: the completion tables' variable where the group has a completion row."""
    return ("count", "completion", tp, dim, group, "due")


def _all_due(obs, n_var, tp, dim, group, row, what, repeat: int = 1) -> None:
    """A missing-as-non-responder share: the count of ``n_var`` out of the plans due."""
    suffix = f" #{repeat}" if repeat > 1 else ""
    obs.see(_due(tp, dim, group), row[f"Due (N){suffix}"])
    obs.share(n_var, _due(tp, dim, group), row[f"{what}, missing as non-responder %"])


def _api_share_of_due(obs, n_var, tp, dim, group, share) -> None:
    if share is not None:
        obs.see(_due(tp, dim, group), share["N"])
        obs.share(n_var, _due(tp, dim, group), share["pct"])


def _api_mean(obs, key, mean: Mapping[str, Any] | None) -> None:
    if mean is not None:
        obs.mean(key, mean.get("n"), mean.get("mean"), mean.get("sd"))


def _api_outcomes(obs, timepoints, dim: str, group: str) -> None:
    for tp in timepoints:
        label = tp["label"]
        for m in tp["measures"]:
            _api_mean(obs, ("score", label, m["label"], dim, group), m["score"])
            key = (label, m["label"], dim, group)
            if m["change"] is not None:
                _api_mean(obs, ("change", *key), m["change"])
                _api_mean(obs, ("same", *key), m["same_knees"])
                obs.see(("n", "change", *key), m["mcid"]["N"])
                obs.count(("mcid", *key), m["mcid"]["n"])
                obs.share(("count", "mcid", *key), ("n", "change", *key), m["mcid"]["pct"])
                _api_share_of_due(obs, ("count", "mcid", *key), label, dim, group, m["mcid_all_due"])
            if m.get("pass") is not None:
                obs.count(("pass", *key), m["pass"]["n"])
                obs.see(("n", "score", *key), m["pass"]["N"])
                obs.share(("count", "pass", *key), ("n", "score", *key), m["pass"]["pct"])
                _api_share_of_due(obs, ("count", "pass", *key), label, dim, group, m["pass_all_due"])
        if tp["responders"] is not None:
            key = (label, dim, group)
            obs.count(("resp", *key), tp["responders"]["n"])
            obs.count(("resp_N", *key), tp["responders"]["N"])
            obs.share(("count", "resp", *key), ("count", "resp_N", *key), tp["responders"]["pct"])
            _api_share_of_due(obs, ("count", "resp", *key), label, dim, group, tp["responders_all_due"])


def _observe_api(obs, compare_by, data, groups_by) -> None:
    obs.count(("plans", "all", "all"), data["plans"])
    for tp in data["completion"]:
        cells = {k: tp[k] for k in STATUS_COLUMNS.values()}
        _completion_row(obs, tp["label"], "all", "all", cells, tp["completion"]["pct"])
    for dim in ("clinic", "clinician", "product"):
        for group in data["loss_to_follow_up"][f"by_{dim}"]:
            groups_by[dim][group["label"]] = True
            for tp in group["timepoints"]:
                cells = {k: tp[k] for k in STATUS_COLUMNS.values()}
                _completion_row(obs, tp["label"], dim, group["label"], cells, tp["completion"]["pct"])
    _api_outcomes(obs, data["timepoints"], "all", "all")
    for group in data["groups"]:
        groups_by[compare_by][group["label"]] = True
        obs.count(("plans", compare_by, group["label"]), group["plans"])
        _api_outcomes(obs, group["timepoints"], compare_by, group["label"])
    for grade in data["responders_by_kl"]:
        groups_by["kl_grade"][grade["label"]] = True
        obs.count(("plans", "kl_grade", grade["label"]), grade["plans"])
        for tp in grade["timepoints"]:
            key = (tp["label"], "kl_grade", grade["label"])
            obs.count(("resp", *key), tp["responders"]["n"])
            obs.count(("resp_N", *key), tp["responders"]["N"])
            obs.share(("count", "resp", *key), ("count", "resp_N", *key), tp["responders"]["pct"])
            g = ("kl_grade", grade["label"])
            _api_share_of_due(obs, ("count", "resp", *key), tp["label"], *g, tp["responders_all_due"])
            pain = (tp["label"], "KOOS Pain", "kl_grade", grade["label"])
            obs.count(("mcid", *pain), tp["mcid_koos_pain"]["n"])
            obs.see(("n", "change", *pain), tp["mcid_koos_pain"]["N"])
            obs.share(("count", "mcid", *pain), ("n", "change", *pain), tp["mcid_koos_pain"]["pct"])
            _api_share_of_due(obs, ("count", "mcid", *pain), tp["label"], *g, tp["mcid_koos_pain_all_due"])
    for row in data["loss_to_follow_up"]["baseline_by_completion"]:
        for fate, label in (("completed", "Completed"), ("lost", "Lost")):
            _api_mean(obs, ("baseline_of", row["timepoint_label"], row["label"], label), row[fate])
    for row in data["adverse_events"]["rows"]:
        obs.count(("ae_events", row["label"], row["seriousness"]), row["events"])
        obs.count(("ae_injections", row["label"]), row["injections"])
        obs.share(
            ("count", "ae_events", row["label"], row["seriousness"]),
            ("count", "ae_injections", row["label"]),
            row["per_100"],
        )


def _equations(obs: Observations, groups_by: Mapping[str, Mapping[str, Any]]) -> None:
    """Definitions and breakdowns: every total equals the sum of its parts, in every partition seen."""
    variables = list(obs.values)
    completion_rows = {v[2:6] for v in variables if v[:2] == ("count", "completion")}
    for tp, dim, group in {(r[1], r[2], r[3]) for r in completion_rows}:
        c = ("count", "completion", tp, dim, group)
        obs.equal((*c, "due"), [(*c, "completed"), (*c, "missed"), (*c, "open_overdue")])
        obs.equal((*c, "plans"), [(*c, "due"), (*c, "not_yet_due"), (*c, "cancelled")])
        # Every plan has a follow-up at every timepoint: a row's plans are its group's plans.
        obs.equal((*c, "plans"), [("count", "plans", dim, group)])
    timepoints = {r[1] for r in completion_rows}
    for dim, groups in groups_by.items():
        labels = list(groups)
        _breakdown(obs, "count", ("plans", "all", "all"), [("plans", dim, g) for g in labels])
        for tp in timepoints:
            for column in STATUS_COLUMNS.values():
                _breakdown(
                    obs,
                    "count",
                    ("completion", tp, "all", "all", column),
                    [
                        ("completion", tp, dim, g, column)
                        for g in labels
                        if ("count", "completion", tp, dim, g, column) in obs.values
                    ],
                )
    # Means, MCID and responders: the overall row is the sum of the groups of each partition.
    families = defaultdict(set)
    for v in variables:
        if v[0] in ("n",) and v[1] in ("score", "change", "same"):
            families[("mean", v[1], v[2], v[3])].add((v[4], v[5]))
        elif v[0] == "count" and v[1] in ("mcid", "pass"):
            families[(v[0], v[1], v[2], v[3])].add((v[4], v[5]))
        elif v[:2] == ("count", "completion") and v[-1] == "due" and v[3] not in ("clinic", "clinician", "product"):
            # Plans due in the groups of a "compare by" (or a KL grade): they add up to all plans due.
            families[("count", "due", v[2], None)].add((v[3], v[4]))
        elif v[0] == "count" and v[1] in ("resp", "resp_N"):
            families[("count", v[1], v[2], None)].add((v[3], v[4]))
    for (kind, name, tp, measure), members in families.items():
        by_dim = defaultdict(list)
        for dim, group in members:
            if dim != "all":
                by_dim[dim].append(group)
        head = (name, tp, measure) if measure is not None else (name, tp)
        for dim, labels in by_dim.items():
            if name == "due":  # completion variables name the group before the column
                _breakdown(obs, kind, ("completion", tp, "all", "all", "due"),
                           [("completion", tp, dim, g, "due") for g in labels])  # fmt: skip
                continue
            _breakdown(obs, kind, (*head, "all", "all"), [(*head, dim, g) for g in labels])
    for v in variables:  # MCID's N is the change's n; a mean's sum of squares needs no more.
        if v[:2] == ("count", "mcid"):
            obs.equal(("n", "change", *v[2:]), [("count", "mcid", *v[2:]), ("count", "mcid_not", *v[2:])])
        if v[:2] == ("count", "pass"):  # PASS's N is the follow-up score's n
            obs.equal(("n", "score", *v[2:]), [("count", "pass", *v[2:]), ("count", "pass_not", *v[2:])])
        if v[:2] == ("n", "same"):  # the same knees are some of the change's knees
            for q in ("n", "s", "q"):
                obs.equal((q, "change", *v[2:]), [(q, "same", *v[2:]), (q, "same_rest", *v[2:])])


# --- Solving ------------------------------------------------------------------------------------------------------


def solve(obs: Observations) -> dict[tuple, Fraction]:
    """Every unknown variable that the equations determine, with its value (Gauss-Jordan over the rationals)."""
    unknown = [v for v, value in obs.values.items() if value is None]
    for eq in obs.equations:
        for v in eq:
            if v not in obs.values:
                unknown.append(v)
                obs.values[v] = None
    index = {v: i for i, v in enumerate(dict.fromkeys(unknown))}
    rows: list[tuple[dict[int, Fraction], Fraction]] = []
    for eq in obs.equations:
        row: dict[int, Fraction] = {}
        constant = Fraction(0)
        for v, coefficient in eq.items():
            value = obs.values.get(v)
            if value is None:
                row[index[v]] = row.get(index[v], Fraction(0)) + coefficient
            else:
                constant -= coefficient * value
        row = {i: c for i, c in row.items() if c}
        if row:
            rows.append((row, constant))
    pivots: dict[int, tuple[dict[int, Fraction], Fraction]] = {}
    for row, constant in rows:
        row = dict(row)
        while True:
            common = [i for i in row if i in pivots]
            if not common:
                break
            i = min(common)
            factor = row[i]
            prow, pconst = pivots[i]
            for j, c in prow.items():
                value = row.get(j, Fraction(0)) - factor * c
                if value:
                    row[j] = value
                else:
                    row.pop(j, None)
            constant -= factor * pconst
        if not row:
            continue
        lead = min(row)
        scale = row[lead]
        pivots[lead] = ({j: c / scale for j, c in row.items()}, constant / scale)
    # Back-substitution, highest pivot first, so each pivot row holds no other pivot's variable.
    for i in sorted(pivots, reverse=True):
        row, constant = pivots[i]
        for j in [j for j in row if j != i and j in pivots]:
            factor = row.pop(j)
            prow, pconst = pivots[j]
            for k, c in prow.items():
                if k == j:
                    continue
                value = row.get(k, Fraction(0)) - factor * c
                if value:
                    row[k] = value
                else:
                    row.pop(k, None)
            constant -= factor * pconst
        pivots[i] = (row, constant)
    names = {i: v for v, i in index.items()}
    return {names[i]: constant for i, (row, constant) in pivots.items() if set(row) == {i}}


def filtered_as_group(filtered_files: Mapping[tuple, Any], dim: str, label: str) -> dict[tuple, Fraction]:
    """Files over a filtered cohort hold, in their overall rows, the numbers of the one group of ``dim`` that the
    filter keeps: those numbers under that group's variables."""
    known = {}
    for var, value in observe(filtered_files).values.items() if filtered_files else ():
        if value is None:
            continue
        for i in range(len(var) - 1):
            if var[i : i + 2] == ("all", "all"):
                known[(*var[:i], dim, label, *var[i + 2 :])] = value
                break
    return known


def recovered(
    files: Mapping[tuple, Any], truth: Mapping[tuple, Fraction], *, also_known: Mapping[tuple, Fraction] | None = None
) -> list[str]:
    """Withheld values the attacker recovers exactly: each as "variable = value (true value)". ``also_known``:
    values learnt elsewhere (e.g. from filtered files)."""
    obs = observe(files)
    for var, value in (also_known or {}).items():
        if obs.values.get(var) is None:
            obs.values[var] = value
    # Withheld somewhere, yet published in another file or worked back from them.
    known = {var: value for var, value in obs.values.items() if value is not None and var in obs.blank}
    printed = set(obs.values)  # published or left blank in these files (solve adds the implied ones)
    # A number these files never print (the same-knees change of all plans, a group's mean score: in the API only)
    # is withheld from nobody here: working it out from printed parts is no finding. The knees left out of the
    # same-knees means (an implied remainder) keep being checked.
    known |= {var: value for var, value in solve(obs).items() if var in printed or var[1] == "same_rest"}
    found = []
    for var, value in known.items():
        true = truth.get(var)
        if true is None or (var[0] == "count" and var[1] in ("mcid_not", "pass_not")):
            continue
        if var[0] in ("count", "n"):
            hit = abs(value - true) < Fraction(1, 2)
        else:  # a sum or sum of squares, from means and SDs rounded to 3 decimals
            hit = abs(value - true) <= max(Fraction(1, 10), abs(true) / 1000)
        if hit:
            found.append(f"{var} = {float(value):.3f} (true {float(true):.3f})")
    return sorted(found)


def truth_of(summaries: Mapping[str, Mapping[str, Any]]) -> dict[tuple, Fraction]:
    """The exact numbers (the page's summary, per compare_by) as the same variables."""
    obs = Observations()
    groups_by: dict[str, dict[str, Any]] = defaultdict(dict)
    for compare_by, summary in summaries.items():
        _observe_api(obs, compare_by, summary, groups_by)
    return {v: value for v, value in obs.values.items() if value is not None}

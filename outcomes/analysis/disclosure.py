"""What may leave the clinic: small-number suppression of the outcomes summary. The one place that decides what
each way out shows (``release``) and what is withheld (``protect``).

Who sees what (the same for every role that may see the dashboard: clinician, lead, auditor, administrator):
- the dashboard page shows exact numbers, because every number on it describes patients its reader may already
  open one by one (the cohort is scoped to their clinics); it marks each number that downloads withhold;
- the CSV downloads and ``GET /api/v1/outcomes/summary/`` are protected for everyone, administrators included:
  they are the forms that are copied out of the registry, by a person or by an integration holding a token.
  They describe the user's whole cohort and take no filters (only "compare by"), see below.

The threshold ``minimum()`` is DASHBOARD_MIN_GROUP_SIZE, at least FLOOR = 10: UK LLC's rule (no count, and no
statistic or percentage, describing fewer than 10 data subjects may leave its trusted research environment;
guidebook.ukllc.ac.uk, "Statistical Disclosure Control"), stricter than NHS Digital's for HES (no mean from fewer
than 8 values, counts 1-7 suppressed; "Disclosure control methodology for HES and ECDS", 2018).

Primary suppression: every number is judged by the count of people it describes. A count by itself; a mean (with
its SD and CI) by its n; a percentage by its numerator, its denominator and those not in its numerator (N - n:
published n and N give it away); a rate per 100 injections by its events and its injections (ONS calculates no
age-standardised rate from fewer than 10 deaths either). A count from 1 to minimum - 1 is withheld; a zero is
shown (it describes nobody; NHS Digital shows zeros too).

Complementary (secondary) suppression, the cell-suppression method of official statistics (Hundepool et al.,
"Statistical Disclosure Control", Wiley 2012, ch. 4; tau-Argus, and sdcTable's SIMPLEHEURISTIC): every published
number and every number the files imply (the KL grade not shown, those without a response) is a cell, and every
"total = sum of its parts" that a reader can write down from the files is a linear relation: overall = the sum of
the groups of each breakdown (every "compare by", clinic, clinician, product, KL grade); due = completed + missed
+ open past due; plans = due + not yet due + cancelled + not collected; N = reached + not reached. Means take part
through their n, sum and sum of squares, which add up like counts. Then, until nothing changes:
1. in each relation whose total is known, the withheld parts must be at least two and describe together 0 or at
   least ``minimum()`` people (the remainder a reader can compute is then itself a safe number); a total that is
   withheld must have a withheld part. Where not, the smallest visible part is withheld as well;
2. an audit solves the reader's whole linear system exactly (Gauss-Jordan in integers) and withholds more
   wherever any withheld number is still determined by the rest.
Which numbers were withheld as small and which as complements is never said (a reader could bound them: a small
one lies between 1 and minimum - 1); the page marks every withheld number alike.

The breakdowns that do not depend on "compare by" (overall, completion by clinic, clinician and product,
responders by KL grade, ...) are protected first and then frozen, so every "compare by" gives the same pattern
there; each "compare by" then protects its own groups without touching them. So the files of all six choices,
downloaded together, still give nothing away (tests/outcomes/test_disclosure.py downloads them all and attacks).

Not protected, by design (README "What leaves the clinic"):
- filters: downloads take none, because files of arbitrary filters can be subtracted from one another (with and
  without a filter that leaves out the small group; or the files of every product, added up, against the
  whole). Protecting every combination of filter values jointly is the linked-tables problem, and date ranges
  cannot be enumerated at all;
- time: today's file minus tomorrow's shows what changed in between (one new questionnaire, say);
- different users: two users whose clinics differ can subtract their files. Downloads are logged (who, when);
- bounds: the audit proves no withheld number is exactly determined; it does not compute the interval a reader
  could place on one by linear programming (tau-Argus does, with a solver).
"""

from __future__ import annotations

import logging
import math
import pickle
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

FLOOR = 10
MEAN_FIELDS = ("n", "mean", "sd", "ci_low", "ci_high")
STATUSES = ("completed", "missed", "open_overdue", "not_yet_due", "cancelled", "not_collected")
EXACT, PROTECTED = "exact", "protected"
# How each way out of the dashboard's numbers is released. The page is for staff who may see every patient in it.
CHANNELS = {"page": EXACT, "csv": PROTECTED, "api": PROTECTED}


def minimum() -> int:
    """The smallest number of people a number leaving the clinic may describe."""
    value = int(getattr(settings, "DASHBOARD_MIN_GROUP_SIZE", FLOOR))
    if value < FLOOR:
        raise ImproperlyConfigured(f"DASHBOARD_MIN_GROUP_SIZE may be raised, not lowered below {FLOOR}")
    return value


def takes_filters(channel: str) -> bool:
    """Exact numbers may be filtered at will; protected ones describe the whole cohort (see the module's notes)."""
    return CHANNELS[channel] == EXACT


def release(summary: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """The summary as ``channel`` shows it: exact for the page, protected for downloads and the API."""
    return dict(summary) if CHANNELS[channel] == EXACT else protect(summary)


# --- Cells and relations --------------------------------------------------------------------------------------


@dataclass
class Cell:
    ident: tuple  # (what, count)
    count: int  # people (plans, events, injections) the number describes
    published: bool  # False: implied by the files (e.g. those not reaching the MCID), never printed
    rank: tuple  # complements are taken smallest rank first
    frozen: bool = False
    hidden: bool = False
    places: list[tuple[dict, tuple[str, ...]]] = field(default_factory=list)  # (dict, fields) printing it

    @property
    def unknown(self) -> bool:
        """Not known to a reader: withheld, or implied and not zero (an implied zero counts as known: a reader may
        guess it, e.g. that a clinic gives no PRP)."""
        return self.hidden or (not self.published and self.count != 0)


class Release:
    """Cells keyed by (what, count): a number printed in two places is one cell; the same description with another
    count is another number (e.g. a timepoint that some plans lack)."""

    def __init__(self, k: int):
        self.k = k
        self.cells: dict[tuple, Cell] = {}
        self.relations: list[tuple[tuple, tuple[tuple, ...]]] = []  # in the order stated: deterministic
        self._stated: set[tuple[tuple, frozenset]] = set()

    def is_small(self, count: int) -> bool:
        return 0 < count < self.k

    def cell(
        self,
        key: tuple,
        count: Any,
        at: Iterable[tuple[dict, tuple[str, ...]]] = (),
        *,
        published: bool = True,
        size: int | None = None,
    ) -> tuple:
        count = int(count or 0)
        ident = (key, count)
        cell = self.cells.get(ident)
        if cell is None:
            rank = (size if size is not None else count, count, repr(key))
            cell = self.cells[ident] = Cell(ident, count, published, rank)
            cell.hidden = published and self.is_small(count)
        cell.places.extend(at)
        return ident

    def relate(self, total: tuple, parts: Iterable[tuple]) -> None:
        parts = tuple(dict.fromkeys(parts))
        if parts and (total, frozenset(parts)) not in self._stated:
            self._stated.add((total, frozenset(parts)))
            self.relations.append((total, parts))

    def freeze(self) -> None:
        for cell in self.cells.values():
            cell.frozen = True

    # --- Protection -----------------------------------------------------------------------------------------

    def protected(self, ident: tuple) -> bool:
        """Must stay unknown: withheld in print, or implied and small."""
        cell = self.cells[ident]
        return cell.hidden or (not cell.published and self.is_small(cell.count))

    def protect(self) -> None:
        while self._apply_rules() or self._audit():
            pass

    def _candidates(self, idents: Iterable[tuple]) -> list[Cell]:
        cells = [self.cells[i] for i in idents]
        return sorted((c for c in cells if c.published and not c.hidden and not c.frozen and c.count > 0), key=_rank)

    def _hide(self, cell: Cell) -> None:
        cell.hidden = True

    def _apply_rules(self) -> bool:
        changed = False
        for total_id, part_ids in self.relations:
            total = self.cells[total_id]
            unknown = [self.cells[p] for p in part_ids if self.cells[p].unknown]
            if total.unknown:
                if not unknown and self.protected(total_id):  # the parts add up to it
                    changed |= self._withhold_one(part_ids, total_id)
                continue
            if not any(self.protected(c.ident) for c in unknown):
                continue
            together = sum(c.count for c in unknown)
            if len(unknown) >= 2 and not self.is_small(together):
                continue
            changed |= self._withhold_one(part_ids, total_id, together=together)
        return changed

    def _withhold_one(self, part_ids: tuple, total_id: tuple, *, together: int = 0) -> bool:
        candidates = self._candidates(part_ids)
        if not candidates:
            # Nothing left among the parts (all zero, withheld or frozen): withhold the total instead.
            total = self.cells[total_id]
            if total.published and not total.hidden and not total.frozen:
                self._hide(total)
                return True
            return self._withhold_everything(total_id)
        # The smallest part that makes the withheld remainder safe on its own; else the largest, and go on.
        enough = [c for c in candidates if not self.is_small(together + c.count)]
        self._hide(enough[0] if enough else candidates[-1])
        return True

    def _audit(self) -> bool:
        """Withhold more wherever the reader's linear system still determines a protected cell."""
        determined = _determined(self.relations, {i for i, c in self.cells.items() if c.unknown})
        for ident in sorted(determined, key=repr):
            if self.protected(ident):
                candidate = self._nearest_candidate(ident)
                if candidate is None:
                    return self._withhold_everything(ident)
                self._hide(candidate)
                return True  # re-run the cheap rules before auditing again
        return False

    def _withhold_everything(self, ident: tuple) -> bool:
        """The safe way out where no complement is left (not met in any test): withhold every number this stage
        may still touch. The frozen stage before passed its own audit; what is left then adds no equation that
        fixes anything."""
        logger.warning("small-number suppression: no complement for %s; withholding every number of this stage", ident)
        left = [c for c in self.cells.values() if c.published and not c.hidden and not c.frozen and c.count > 0]
        for cell in left:
            self._hide(cell)
        return bool(left)

    def _nearest_candidate(self, ident: tuple) -> Cell | None:
        """The visible cell to withhold next to ``ident``: the smallest in a relation holding it, else in the
        relations reached from there through unknown cells (a determination can run through several)."""
        by_cell: dict[tuple, list[tuple]] = defaultdict(list)
        for total, parts in self.relations:
            for member in (total, *parts):
                by_cell[member].append((total, *parts))
        reached, frontier, seen = {ident}, [ident], set()
        while frontier:
            members = {m for cell in frontier for relation in by_cell[cell] if relation not in seen for m in relation}
            seen.update(relation for cell in frontier for relation in by_cell[cell])
            candidates = self._candidates(members)
            if candidates:
                return candidates[0]
            frontier = [m for m in members if m not in reached and self.cells[m].unknown]
            reached.update(frontier)
        return None


def _rank(cell: Cell) -> tuple:
    return cell.rank


def _determined(relations: Iterable[tuple[tuple, tuple[tuple, ...]]], unknown: set[tuple]) -> set[tuple]:
    """Unknowns fixed by the relations (total - sum of parts = 0) given every other cell: those whose unit vector
    lies in the row space of the relations restricted to the unknowns. Gauss-Jordan elimination in exact integer
    arithmetic (each row kept divided by its gcd), over sparse rows: no rounding can hide or invent a solution."""
    index = {ident: i for i, ident in enumerate(sorted(unknown, key=repr))}
    pivots: dict[int, dict[int, int]] = {}  # a row by its first variable; its other variables come later
    for total, parts in relations:
        row: dict[int, int] = {}
        for ident, coefficient in ((total, 1), *((p, -1) for p in parts)):
            if ident in index:
                row[index[ident]] = row.get(index[ident], 0) + coefficient
        row = {i: c for i, c in row.items() if c}
        while row:
            common = [i for i in row if i in pivots]
            if not common:
                break
            i = min(common)
            row = _eliminate(row, pivots[i], i)
        if row:
            pivots[min(row)] = row
    for i in sorted(pivots, reverse=True):  # back-substitution: no pivot row keeps another pivot's variable
        for j in [j for j in pivots[i] if j != i and j in pivots]:
            pivots[i] = _eliminate(pivots[i], pivots[j], j)
    names = {i: ident for ident, i in index.items()}
    return {names[i] for i, row in pivots.items() if len(row) == 1}


def _eliminate(row: dict[int, int], pivot: dict[int, int], var: int) -> dict[int, int]:
    """``row`` with ``var`` eliminated by ``pivot``: a x row - b x pivot, divided by the gcd of what is left."""
    a, b = pivot[var], row[var]
    out = {j: a * c for j, c in row.items()}
    for j, c in pivot.items():
        out[j] = out.get(j, 0) - b * c
    out = {j: c for j, c in out.items() if c}
    divisor = math.gcd(*out.values()) if out else 1
    return {j: c // divisor for j, c in out.items()} if divisor > 1 else out


# --- The summary as cells -------------------------------------------------------------------------------------

ALL = ("all", "all")
BIG = 10**12  # the rank of overall cells: never a complement before a group's


def _completion(r: Release, row: dict, tp: str, dim: str, group: str, size: int) -> dict[str, tuple]:
    """One completion row (a group at a timepoint): counts by status, due, plans; the two sums inside it."""
    g = (dim, group)
    ids = {
        s: r.cell(
            ("status", tp, *g, s),
            row[s],
            [(row, (s,))] + ([(row["completion"], ("n",))] * (s == "completed")),
            size=size,
        )
        for s in STATUSES
    }
    ids["due"] = r.cell(("due", tp, *g), row["due"], [(row, ("due",)), (row["completion"], ("N",))], size=size)
    ids["plans"] = r.cell(("plans", *g), row["plans"], [(row, ("plans",))], size=size)
    rest = row["plans"] - row["due"] - row["not_yet_due"] - row["cancelled"] - row["not_collected"]
    other = r.cell(("other statuses", tp, *g), rest, published=False, size=size)
    r.relate(ids["due"], [ids["completed"], ids["missed"], ids["open_overdue"]])
    r.relate(ids["plans"], [ids["due"], ids["not_yet_due"], ids["cancelled"], ids["not_collected"], other])
    return ids


def _mean(r: Release, key: tuple, mean: dict | None, size: int) -> tuple | None:
    if mean is None:
        return None
    return r.cell(key, mean["n"], [(mean, MEAN_FIELDS)], size=size)


def _share(r: Release, key: tuple, share: dict, total: tuple, size: int) -> tuple:
    """n of N, N being the cell ``total``: n, and those not in it (implied), add up to N."""
    n = r.cell(key, share["n"], [(share, ("n",))], size=size)
    rest = r.cell((*key[:-2], "not", *key[-2:]), share["N"] - share["n"], published=False, size=size)
    r.relate(total, [n, rest])
    return n


def _due(r: Release, t: str, g: tuple, count: int, size: int) -> tuple:
    """Plans due at a follow-up: the completion table's cell of the same name, and the denominator of every
    missing-as-non-responder share."""
    return r.cell(("due", t, *g), count, size=size)


def _all_due(r: Release, key: tuple, share: dict | None, due: tuple) -> None:
    """A missing-as-non-responder share: its n is the complete-case share's (the same cell), its N the plans due
    (the completion tables' cell), so it prints nothing new: it is withheld wherever either is. Like the completion
    and responder tables it sits beside, no relation ties the plans due to the responders (the design predates
    this share; README "What leaves the clinic")."""
    if share is None:
        return
    r.cells[due].places.append((share, ("N",)))
    r.cell(key, share["n"], [(share, ("n",))])


def _outcomes(r: Release, timepoints: list[dict], dim: str, group: str, size: int) -> dict[tuple, tuple]:
    """Scores, changes with their MCID, PASS, responders, the missing-as-non-responder shares and the same-knees
    changes: every cell of one group (or of the whole cohort)."""
    g = (dim, group)
    ids: dict[tuple, tuple] = {}
    for tp in timepoints:
        t = tp["timepoint"]
        due = _due(r, t, g, tp["due"], size) if "due" in tp else None
        if due is not None:
            ids[("due", t)] = due
        for m in tp["measures"]:
            score = _mean(r, ("score", t, m["measure"], *g), m["score"], size)
            ids[("score", t, m["measure"])] = score
            if m["change"] is not None:
                change = _mean(r, ("change", t, m["measure"], *g), m["change"], size)
                r.cells[change].places.append((m["mcid"], ("N",)))  # MCID's N is the change's n
                ids[("change", t, m["measure"])] = change
                mcid_key = ("mcid", t, m["measure"], *g)
                ids[("mcid", t, m["measure"])] = _share(r, mcid_key, m["mcid"], change, size)
                _all_due(r, mcid_key, m.get("mcid_all_due"), due)
                if m.get("same_knees") is not None:
                    # A subset of the change's plans: the rest (sums included) could be worked out, so it is a part.
                    same = _mean(r, ("same knees", t, m["measure"], *g), m["same_knees"], size)
                    rest = r.cell(
                        ("not same knees", t, m["measure"], *g), m["change"]["n"] - m["same_knees"]["n"],
                        published=False, size=size,
                    )  # fmt: skip
                    r.relate(change, [same, rest])
                    ids[("same knees", t, m["measure"])] = same
            if m.get("pass") is not None:
                r.cells[score].places.append((m["pass"], ("N",)))  # PASS's N is the follow-up score's n
                pass_key = ("pass", t, m["measure"], *g)
                ids[("pass", t, m["measure"])] = _share(r, pass_key, m["pass"], score, size)
                _all_due(r, pass_key, m.get("pass_all_due"), due)
        if tp["responders"] is not None:
            ids.update(_responders(r, tp["responders"], t, g, size))
            _all_due(r, ("responders", t, *g), tp.get("responders_all_due"), due)
    return ids


def _responders(r: Release, share: dict, t: str, g: tuple, size: int) -> dict[tuple, tuple]:
    decided = r.cell(("decided", t, *g), share["N"], [(share, ("N",))], size=size)
    return {("decided", t): decided, ("responders", t): _share(r, ("responders", t, *g), share, decided, size)}


def _columns(r: Release, overall: Mapping[tuple, tuple], groups: Iterable[Mapping[tuple, tuple]], dim: str) -> None:
    """Overall = the sum of the groups, quantity by quantity; plans a breakdown leaves out (none, usually) are an
    implied remainder, which a reader can compute too."""
    groups = list(groups)
    for what, total in overall.items():
        parts = [g[what] for g in groups if g.get(what) is not None]
        if total is None or not parts:
            continue
        rest = r.cells[total].count - sum(r.cells[p].count for p in parts)
        if rest:
            parts.append(r.cell(("not in a group", dim, *what), rest, published=False))
        r.relate(total, parts)


def _base(r: Release, summary: dict) -> dict[tuple, tuple]:
    """Everything that does not depend on "compare by". Returns the overall cells."""
    plans = r.cell(("plans", *ALL), summary["plans"], [(summary, ("plans",))], size=BIG)
    overall_completion: dict[tuple, tuple] = {}
    for row in summary["completion"]:
        for what, ident in _completion(r, row, row["timepoint"], *ALL, BIG).items():
            overall_completion[(what, row["timepoint"])] = ident
    for dim in ("clinic", "clinician", "product"):
        groups = []
        for group in summary["loss_to_follow_up"][f"by_{dim}"]:
            size = max((tp["plans"] for tp in group["timepoints"]), default=0)
            ids = {}
            for row in group["timepoints"]:
                for what, ident in _completion(r, row, row["timepoint"], dim, group["key"], size).items():
                    ids[(what, row["timepoint"])] = ident
            groups.append(ids)
        _columns(r, overall_completion, groups, dim)
    overall = _outcomes(r, summary["timepoints"], *ALL, BIG)
    overall[("plans",)] = plans
    # Responders by KL grade, and the KOOS Pain MCID beside them (its N: the KL grade's KOOS Pain change n).
    grades = []
    for grade in summary["responders_by_kl"]:
        g = ("kl_grade", str(grade["kl_grade"]))
        size = grade["plans"]
        ids = {("plans",): r.cell(("plans", *g), grade["plans"], [(grade, ("plans",))], size=size)}
        for tp in grade["timepoints"]:
            t = tp["timepoint"]
            due = ids[("due", t)] = _due(r, t, g, tp["due"], size)
            ids.update(_responders(r, tp["responders"], t, g, size))
            _all_due(r, ("responders", t, *g), tp["responders_all_due"], due)
            pain = tp["mcid_koos_pain"]
            change = r.cell(("change", t, "koos_pain", *g), pain["N"], [(pain, ("N",))], size=size)
            ids[("change", t, "koos_pain")] = change
            ids[("mcid", t, "koos_pain")] = _share(r, ("mcid", t, "koos_pain", *g), pain, change, size)
            _all_due(r, ("mcid", t, "koos_pain", *g), tp["mcid_koos_pain_all_due"], due)
        grades.append(ids)
    _columns(r, overall, grades, "kl_grade")
    # Baseline scores of those who completed each follow-up and of those lost to it (the rest are implied).
    for row in summary["loss_to_follow_up"]["baseline_by_completion"]:
        t, m = row["timepoint"], row["measure"]
        total = overall[("score", "baseline", m)]
        key = ("baseline of", t, m)
        done = _mean(r, (*key, "completed"), row["completed"], BIG)
        lost = _mean(r, (*key, "lost"), row["lost"], BIG)
        rest = r.cells[total].count - row["completed"]["n"] - row["lost"]["n"]
        r.relate(total, [done, lost, r.cell((*key, "other"), rest, published=False, size=BIG)])
    # Adverse events per 100 injections: judged by the events and by the injections, no totals printed.
    for row in summary["adverse_events"]["rows"]:
        r.cell(("events", row["product"], row["seriousness"]), row["events"], [(row, ("events",))])
        r.cell(("injections", row["product"]), row["injections"], [(row, ("injections",))])
    return overall


def _compared(r: Release, summary: dict, overall: Mapping[tuple, tuple]) -> None:
    """The groups of the chosen "compare by"; cells shared with the base (plans of a clinic, KL grades) are frozen."""
    dim = summary["compare_by"]
    groups = []
    for group in summary["groups"]:
        key = _group_key(dim, group["key"])
        ids = _outcomes(r, group["timepoints"], dim, key, group["plans"])
        ids[("plans",)] = r.cell(("plans", dim, key), group["plans"], [(group, ("plans",))], size=group["plans"])
        groups.append(ids)
    _columns(r, overall, groups, dim)


def _group_key(dim: str, key: Any) -> str:
    # Groups name a missing value "None" ("Not recorded"); the loss tables and KL grades use str() alike.
    return str(key)


# --- Applying the decisions -----------------------------------------------------------------------------------


def protect(summary: Mapping[str, Any], *, k: int | None = None) -> dict[str, Any]:
    """A copy of the summary fit to leave the clinic: withheld numbers are null, and each object holding numbers
    lists the withheld ones in ``suppressed``."""
    protected, _ = protect_with_cells(summary, k=k)
    return protected


def protect_with_cells(summary: Mapping[str, Any], *, k: int | None = None) -> tuple[dict[str, Any], Release]:
    # A deep copy (of plain data we just made), several times faster than copy.deepcopy.
    out = pickle.loads(pickle.dumps(dict(summary), pickle.HIGHEST_PROTOCOL))  # noqa: S301
    r = Release(k or minimum())
    overall = _base(r, out)
    r.protect()
    r.freeze()
    _compared(r, out, overall)
    r.protect()
    _apply(out, r)
    return out, r


def _apply(summary: dict, r: Release) -> None:
    withheld: dict[int, set[str]] = defaultdict(set)
    holders: dict[int, dict] = {}
    for cell in r.cells.values():
        if not cell.hidden:
            continue
        for holder, fields in cell.places:
            holders[id(holder)] = holder
            withheld[id(holder)].update(fields)
    for key, fields in withheld.items():
        for name in fields:
            holders[key][name] = None
    for holder in _holders(summary):
        hidden = withheld.get(id(holder), set())
        # A percentage goes with its numerator and denominator, and so does its interval: the limits of a Wilson
        # or exact interval, with the percentage or alone, give the counts back.
        if "pct" in holder and {"n", "N"} & hidden:
            hidden.update(f for f in ("pct", "ci_low", "ci_high") if f in holder)
        if "per_100" in holder and {"events", "injections"} & hidden:
            hidden.update(f for f in ("per_100", "ci_low", "ci_high") if f in holder)
        for name in hidden:
            holder[name] = None
        holder["suppressed"] = sorted(hidden)


def _holders(summary: dict) -> list[dict]:
    """Every object in the summary that holds numbers (and so gets a ``suppressed`` list)."""
    out = [summary]

    def completion(rows):
        for row in rows:
            out.extend([row, row["completion"]])

    def outcomes(timepoints):
        for tp in timepoints:
            for m in tp["measures"]:
                shown = ("score", "change", "same_knees", "mcid", "mcid_all_due", "pass", "pass_all_due")
                out.extend(m[x] for x in shown if m.get(x) is not None)
            out.extend(tp[x] for x in ("responders", "responders_all_due") if tp.get(x) is not None)

    completion(summary["completion"])
    outcomes(summary["timepoints"])
    for group in summary["groups"]:
        out.append(group)
        outcomes(group["timepoints"])
    for grade in summary["responders_by_kl"]:
        out.append(grade)
        for tp in grade["timepoints"]:
            out.extend([tp["responders"], tp["responders_all_due"], tp["mcid_koos_pain"], tp["mcid_koos_pain_all_due"]])
    for dim in ("clinic", "clinician", "product"):
        for group in summary["loss_to_follow_up"][f"by_{dim}"]:
            completion(group["timepoints"])
    for row in summary["loss_to_follow_up"]["baseline_by_completion"]:
        out.extend([row["completed"], row["lost"]])
    out.extend(summary["adverse_events"]["rows"])
    return out

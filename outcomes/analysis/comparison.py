"""A reminder comparison's results: completion per arm at baseline, 1 month and 6 months, and the difference
between the arms with its 95 % interval (Newcombe's hybrid score interval from the two Wilson intervals).

Completion is completed / due, with "due" as on the outcomes dashboard (completed, missed, or open past its due
date; outcomes.analysis.expressions.is_due): follow-ups not yet due are left out. The counts come from one
aggregate query; this module only divides.

What leaves the clinic follows outcomes.analysis.disclosure: the page shows exact numbers (its readers may open
every allocated patient one by one) and marks those the downloads withhold; the CSV and the API are protected
(no count from 1 to the minimum - 1, nor any percentage or difference built on one, and no withheld count
recoverable by subtraction: the audit of disclosure.Release runs on due = completed + not completed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from outcomes.analysis import disclosure
from outcomes.analysis.stats import newcombe, share
from outcomes.models import ComparisonArm, FollowUp, FollowUpStatus, ReminderAllocation, ReminderComparison, Timepoint

TIMEPOINTS = (Timepoint.BASELINE, Timepoint.ONE_MONTH, Timepoint.SIX_MONTHS)
ARMS = (ComparisonArm.A, ComparisonArm.B)
NOT_A_CLINICAL_COMPARISON = (
    "This compares ways of reminding patients, not treatments. Both arms are treated, followed up and scored "
    "alike; only the reminders and the after-submission score view differ."
)


def _due(today: dt.date) -> Q:
    return Q(status__in=[FollowUpStatus.COMPLETED, FollowUpStatus.MISSED]) | Q(
        status=FollowUpStatus.OPEN, due_on__lt=today
    )


def comparison_counts(comparison: ReminderComparison, *, today: dt.date) -> dict[str, int]:
    """{"<arm>_<timepoint>_due" / "_completed": count} in one query (conditional counts over the allocated
    patients' follow-ups)."""
    due = _due(today)
    measures = {}
    for arm in ARMS:
        for tp in TIMEPOINTS:
            where = Q(patient__reminder_allocation__arm=arm, timepoint=tp)
            measures[f"{arm}_{tp}_due"] = Count("id", filter=where & due)
            measures[f"{arm}_{tp}_completed"] = Count("id", filter=where & Q(status=FollowUpStatus.COMPLETED))
    return FollowUp.objects.filter(patient__reminder_allocation__comparison=comparison).aggregate(**measures)


def comparison_results(
    comparison: ReminderComparison, *, channel: str = "page", today: dt.date | None = None
) -> dict[str, Any]:
    """The per-arm table, as ``channel`` ("page", "csv" or "api") may show it. Percentages and intervals in
    percent; the difference is arm A minus arm B, in percentage points."""
    today = today or timezone.localdate(timezone=comparison.clinic.tzinfo)
    counts = comparison_counts(comparison, today=today)
    patients = dict(
        ReminderAllocation.objects.filter(comparison=comparison).order_by().values_list("arm").annotate(n=Count("id"))
    )
    release = disclosure.Release(disclosure.minimum())
    ids: dict[tuple, tuple] = {}
    for arm in ARMS:
        ids[("patients", arm)] = release.cell(("patients", arm), patients.get(arm, 0))
        for tp in TIMEPOINTS:
            due, done = counts[f"{arm}_{tp}_due"], counts[f"{arm}_{tp}_completed"]
            for what, value, published in (("due", due, True), ("completed", done, True), ("not", due - done, False)):
                ids[(what, arm, tp)] = release.cell((what, arm, tp), value, published=published)
            release.relate(ids[("due", arm, tp)], [ids[("completed", arm, tp)], ids[("not", arm, tp)]])
    release.protect()
    exact = disclosure.CHANNELS[channel] == disclosure.EXACT

    def withheld(*keys) -> bool:
        return any(release.protected(ids[k]) for k in keys)

    rows = []
    for tp in TIMEPOINTS:
        row: dict[str, Any] = {"timepoint": tp, "label": Timepoint(tp).label, "arms": {}}
        for arm in ARMS:
            due, done = counts[f"{arm}_{tp}_due"], counts[f"{arm}_{tp}_completed"]
            hidden = withheld(("due", arm, tp), ("completed", arm, tp), ("not", arm, tp))
            proportion = share(done, due).as_dict()
            proportion["withheld_in_downloads"] = hidden
            if hidden and not exact:
                proportion.update(
                    n=None if withheld(("completed", arm, tp)) else done,
                    N=None if withheld(("due", arm, tp)) else due,
                    pct=None,
                    ci_low=None,
                    ci_high=None,
                )
            row["arms"][arm] = proportion
        a, b = row["arms"][ComparisonArm.A], row["arms"][ComparisonArm.B]
        interval = newcombe(a["n"], a["N"], b["n"], b["N"]) if a["pct"] is not None and b["pct"] is not None else None
        row["difference"] = {
            "estimate": a["pct"] - b["pct"] if interval else None,
            "ci_low": 100.0 * interval[0] if interval else None,
            "ci_high": 100.0 * interval[1] if interval else None,
            "withheld_in_downloads": a["withheld_in_downloads"] or b["withheld_in_downloads"],
        }
        rows.append(row)
    arms = []
    for arm in ARMS:
        strategy = comparison.strategy_of(arm)
        hidden = withheld(("patients", arm))
        arms.append(
            {
                "arm": arm,
                "label": ComparisonArm(arm).label,
                "name": strategy.name,
                "texts": strategy.texts_summary,
                "show_own_scores": strategy.show_own_scores,
                "patients": None if hidden and not exact else patients.get(arm, 0),
                "patients_withheld_in_downloads": hidden,
            }
        )
    return {
        "arms": arms,
        "timepoints": rows,
        "protected": not exact,
        "minimum": release.k,
        "today": today,
        "note": NOT_A_CLINICAL_COMPARISON,
    }

"""Outcomes on other apps' pages: the follow-ups block of the patient page, and questionnaire helpers."""

import re

from django import template

from outcomes import selectors, services
from outcomes.measures import MEASURES
from outcomes.models import FollowUpStatus, Timepoint
from outcomes.views import follow_up_enterable
from registry.scoping import clinics_for

register = template.Library()

# Short labels: the patient page lists every score of a follow-up on one line.
MEASURE_LABELS = {m.name: m.short_label for m in MEASURES}
STATUS_BADGES = {
    FollowUpStatus.COMPLETED: "badge-ok",
    FollowUpStatus.OPEN: "badge-warn",
    FollowUpStatus.MISSED: "badge-danger",
    FollowUpStatus.NOT_COLLECTED: "badge-muted",
}
_DEMO_SUFFIX = re.compile(r"\s*\([^()]*\bdemo\b[^()]*\)\s*$", re.IGNORECASE)


@register.filter
def q_title(instrument) -> str:
    """The instrument's title without the "(demo wording ...)" suffix; the page shows a separate note for that."""
    if instrument.wording == "demo":
        return _DEMO_SUFFIX.sub("", instrument.title)
    return instrument.title


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


def _row(follow_up, derived, today, may_write):
    submission = selectors.submission_of(follow_up)
    scores, changes = [], []
    if submission is not None:
        current = selectors.current_scores(submission)
        scores = [
            {
                "label": label,
                "value": current[measure],
                "imputed": measure == "oks.total" and submission.oks_imputed,
            }
            for measure, label in MEASURE_LABELS.items()
            if current[measure] is not None
        ]
    if derived is not None:
        changes = [
            {"label": MEASURE_LABELS[m], "change": value, "mcid": (derived.mcid_reached or {}).get(m)}
            for m, value in (derived.change_from_baseline or {}).items()
            if value is not None and m in MEASURE_LABELS
        ]
    open_today = follow_up.is_active and follow_up.window_contains(today)
    return {
        "follow_up": follow_up,
        "submission": submission,
        "badge": STATUS_BADGES.get(follow_up.status, ""),
        "scores": scores,
        "changes": changes,
        "derived": derived,
        "can_tablet": may_write and open_today,
        "can_enter": may_write and follow_up_enterable(follow_up, today),
        "is_baseline": follow_up.timepoint == Timepoint.BASELINE,
    }


@register.inclusion_tag("outcomes/_patient_follow_ups.html", takes_context=True)
def patient_follow_ups(context, patient):
    """The patient's follow-ups per treatment plan, with scores and derived measures, in 3 or 4 queries
    however many plans and follow-ups there are."""
    user = context["request"].user
    follow_ups = list(
        selectors.follow_ups_for(user)
        .filter(patient=patient)
        .select_related("plan", "submission")
        .order_by("plan__created_at", "plan_id", "due_on", "id")
    )
    derived = selectors.derived_for(follow_ups)
    may_write = context.get("may_write")
    if may_write is None:
        may_write = clinics_for(user, write=True).filter(pk=patient.clinic_id).exists()
    today = services.clinic_today(patient.clinic)
    plans: dict[int, dict] = {}
    for follow_up in follow_ups:
        entry = plans.setdefault(follow_up.plan_id, {"plan": follow_up.plan, "rows": []})
        entry["rows"].append(_row(follow_up, derived.get(follow_up.pk), today, may_write))
    further = list(
        selectors.further_treatments_for(user).filter(patient=patient).select_related("plan", "submission__follow_up")
    )
    return {
        "patient": patient,
        "plans": list(plans.values()),
        "further_treatments": further,
        "may_write": may_write,
        "csrf_token": context.get("csrf_token"),
    }

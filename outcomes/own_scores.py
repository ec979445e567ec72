"""A patient's own scores over time, in plain words, on the page after they send a questionnaire (issue 17).

Showing patients their own PROM scores improved how they experienced the questionnaire in a randomised trial
(Geerards et al.). What the page shows
- one knee's treatment course only (the plan of the follow-up just answered): KOOS subscales, the Oxford Knee
  Score and the pain slider (VAS) before the injection, at about 1 month and 6 months (and later ones answered);
- the scores already stored on each Submission (their columns, amendments applied): nothing is scored here;
- why a timepoint has no number (not due yet, not answered, not asked) and when a score could not be worked out
  under its missing-item rule, never an invented number;
- no other patient, no comparison with anyone, no advice beyond "contact your clinic if you are worried".

``offered_to`` is the one gate: the clinic's setting and its reminder strategy, or a reminder comparison's arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import dateformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from outcomes.measures import BY_NAME, Measure
from outcomes.models import FollowUp, FollowUpStatus, Submission, Timepoint
from outcomes.reminders import strategy_for

# The timepoints shown, in order: always the first three; the later ones once answered.
ALWAYS_SHOWN = (Timepoint.BASELINE, Timepoint.ONE_MONTH, Timepoint.SIX_MONTHS)
SHOWN_IF_ANSWERED = (Timepoint.TWELVE_MONTHS, Timepoint.TWENTY_FOUR_MONTHS)
# When, in a patient's words; lower case, as they go inside sentences (templates capitalise list items).
WHEN = {
    Timepoint.BASELINE: gettext_lazy("before your injection"),
    Timepoint.ONE_MONTH: gettext_lazy("about 1 month after your injection"),
    Timepoint.SIX_MONTHS: gettext_lazy("about 6 months after your injection"),
    Timepoint.TWELVE_MONTHS: gettext_lazy("about 1 year after your injection"),
    Timepoint.TWENTY_FOUR_MONTHS: gettext_lazy("about 2 years after your injection"),
}


@dataclass(frozen=True)
class PlainMeasure:
    measure: Measure
    heading: object  # lazy: the section's heading
    score: object  # lazy: the score's name inside a sentence ("your knee pain score")
    reading: object  # lazy: which way is better, said the right way round for this measure


HIGHER_IS_BETTER = gettext_lazy("higher is better")
LOWER_IS_BETTER = gettext_lazy("lower is better: 0 means no pain")
# What the page reports, in order; the measures' scales and directions come from outcomes.measures.
PLAIN_MEASURES: tuple[PlainMeasure, ...] = (
    PlainMeasure(
        BY_NAME["koos.pain"], gettext_lazy("Knee pain (KOOS)"), gettext_lazy("knee pain score"), HIGHER_IS_BETTER
    ),
    PlainMeasure(
        BY_NAME["koos.symptoms"],
        gettext_lazy("Other knee symptoms, such as swelling or stiffness (KOOS)"),
        gettext_lazy("knee symptoms score"),
        HIGHER_IS_BETTER,
    ),
    PlainMeasure(
        BY_NAME["koos.adl"],
        gettext_lazy("Everyday activities (KOOS)"),
        gettext_lazy("everyday activities score"),
        HIGHER_IS_BETTER,
    ),
    PlainMeasure(
        BY_NAME["koos.sport_rec"],
        gettext_lazy("Sport and leisure (KOOS)"),
        gettext_lazy("sport and leisure score"),
        HIGHER_IS_BETTER,
    ),
    PlainMeasure(
        BY_NAME["koos.qol"],
        gettext_lazy("Quality of life with your knee (KOOS)"),
        gettext_lazy("quality of life score"),
        HIGHER_IS_BETTER,
    ),
    PlainMeasure(
        BY_NAME["oks.total"], gettext_lazy("Oxford Knee Score"), gettext_lazy("Oxford Knee Score"), HIGHER_IS_BETTER
    ),
    PlainMeasure(
        BY_NAME["vas.pain"],
        gettext_lazy("Pain on the slider (0 to 100)"),
        gettext_lazy("pain slider score"),
        LOWER_IS_BETTER,
    ),
)

# Why a timepoint has no answers, by the follow-up's status (a missing follow-up is "not asked").
NO_ANSWERS = {
    FollowUpStatus.SCHEDULED: gettext_lazy("Not due yet. We will ask you around %(day)s."),
    FollowUpStatus.OPEN: gettext_lazy("Not answered yet."),
    FollowUpStatus.MISSED: gettext_lazy("We did not get answers this time."),
    FollowUpStatus.CANCELLED: gettext_lazy("Not asked."),
    FollowUpStatus.NOT_COLLECTED: gettext_lazy("Not asked: your injection was recorded too late to ask before it."),
}
NOT_ASKED = gettext_lazy("Not asked.")
UNSCORABLE = gettext_lazy("could not be worked out: too many questions in this part were left empty")


def offered_to(patient) -> bool:
    """Whether this patient is offered their own scores after sending a questionnaire. The one gate: a clinic
    switches it off (Clinic.show_own_scores) or its default reminder strategy does; a patient allocated to an arm
    of a reminder comparison gets what the arm says, since the lead chose the arms to answer exactly this."""
    strategy = strategy_for(patient)
    if strategy.arm is not None:
        return strategy.show_own_scores
    return bool(patient.clinic.show_own_scores) and strategy.show_own_scores


def offered_after(follow_up: FollowUp, *, on_tablet: bool, urgent: bool) -> bool:
    """Whether the thanks page links to the scores. Not after the short safety checks (no outcome scores), not on a
    clinic tablet (the next patient could open it from the browser's history), and not when the page tells the
    patient to get care (nothing should distract from that)."""
    if on_tablet or urgent or follow_up.is_safety_check:
        return False
    return offered_to(follow_up.patient)


@dataclass
class Row:
    when: str
    value: str = ""  # "45", rounded for display only
    percent: str = "0"  # of the scale's maximum, for the bar
    note: str = ""  # why there is no number


@dataclass
class Section:
    heading: str
    maximum: str
    summary: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Timeline:
    knee_label: str  # "your left knee, injected on 3 March 2026"
    knee: str  # "left" / "right"
    answered: list[dict] = field(default_factory=list)  # each timepoint: when, and its note if unanswered
    sections: list[Section] = field(default_factory=list)


def _number(value: float) -> str:
    return f"{value:.0f}"


def _timepoints(plan_id: int) -> dict[str, FollowUp]:
    """The plan's outcome follow-ups with their submissions' score columns: one query, however many there are."""
    columns = [f"submission__{m.measure.column}" for m in PLAIN_MEASURES]
    rows = (
        FollowUp.objects.filter(plan_id=plan_id, timepoint__in=[*ALWAYS_SHOWN, *SHOWN_IF_ANSWERED])
        .select_related("submission")
        .only("timepoint", "status", "opens_on", "plan_id", "submission__id", *columns)
    )
    return {f.timepoint: f for f in rows}


def _submission(follow_up: FollowUp) -> Submission | None:
    try:
        return follow_up.submission
    except Submission.DoesNotExist:
        return None


def timeline(follow_up: FollowUp) -> Timeline:
    """The scores of ``follow_up``'s knee over time, in the active language. ``follow_up`` with its plan."""
    found = _timepoints(follow_up.plan_id)
    shown = list(ALWAYS_SHOWN) + [t for t in SHOWN_IF_ANSWERED if t in found and _submission(found[t])]
    result = Timeline(knee_label=follow_up.patient_label, knee=follow_up.plan.knee)
    submissions: dict[str, Submission] = {}
    for timepoint in shown:
        row = found.get(timepoint)
        submission = _submission(row) if row else None
        if submission is not None:
            submissions[timepoint] = submission
            result.answered.append({"when": str(WHEN[timepoint]), "note": ""})
            continue
        if row is None:
            note = str(NOT_ASKED)
        elif row.status == FollowUpStatus.SCHEDULED:
            note = NO_ANSWERS[row.status] % {"day": dateformat.format(row.opens_on, "j F Y")}
        else:
            note = str(NO_ANSWERS.get(row.status, NOT_ASKED))
        result.answered.append({"when": str(WHEN[timepoint]), "note": note})
    for plain in PLAIN_MEASURES:
        result.sections.append(_section(plain, shown, submissions))
    return result


def _section(plain: PlainMeasure, shown: list[str], submissions: dict[str, Submission]) -> Section:
    measure = plain.measure
    maximum = f"{measure.maximum:g}"
    section = Section(heading=str(plain.heading), maximum=maximum, summary="")
    scored: list[tuple[str, float]] = []
    for timepoint in shown:
        submission = submissions.get(timepoint)
        if submission is None:
            continue  # said once, in the list of questionnaires
        value = getattr(submission, measure.column)
        when = str(WHEN[timepoint])
        if value is None:
            section.rows.append(Row(when=when, note=str(UNSCORABLE)))
            continue
        scored.append((when, value))
        percent = max(0.0, min(100.0, 100 * value / measure.maximum))
        section.rows.append(Row(when=when, value=_number(value), percent=f"{percent:.1f}"))
    words = {"score": plain.score, "maximum": maximum, "reading": plain.reading}
    if len(scored) >= 2:
        (first_when, first), (last_when, last) = scored[0], scored[-1]
        section.summary = _(
            "Your %(score)s went from %(first)s (%(first_when)s) to %(last)s (%(last_when)s), out of %(maximum)s "
            "(%(reading)s)."
        ) % {**words, "first": _number(first), "first_when": first_when, "last": _number(last), "last_when": last_when}
    elif scored:
        ((when, value),) = scored
        section.summary = _("Your %(score)s was %(value)s out of %(maximum)s %(when)s (%(reading)s).") % {
            **words,
            "value": _number(value),
            "when": when,
        }
    else:
        section.summary = _("We could not work out your %(score)s from the answers we have.") % words
    return section

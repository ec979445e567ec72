"""A clinic's reminder settings, as its lead changes them on the "Reminder settings" page.

What the page changes, and where each setting lives:
- text reminders and their days, and whether patients see their own scores: the clinic's default reminder strategy
  (``ReminderStrategy.is_clinic_default``; without one the registry's settings apply: ``reminders.strategy_for``);
- whether patients see their own scores, also: ``Clinic.show_own_scores`` (``own_scores.offered_to`` needs both);
- the daily limits of patient emails and texts: ``Clinic.daily_email_cap`` / ``daily_text_cap``.

``reminder_settings_change`` is the one write path: one transaction, the clinic row locked, and refused when the
settings changed since the lead opened the page (the form carries ``ReminderSettings.version``), so two leads saving
at once cannot silently undo each other. Every change leaves history rows with the lead's reason.

Nothing clinical reads these settings: follow-up windows, scoring and safety flags are the same whatever they say.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from outcomes.models import ReminderComparison, ReminderStrategy
from outcomes.reminders import GLOBAL_NAME, global_text_reminder_days, may_run_comparisons, text_days_of
from registry.models import Clinic

DEFAULT_NAME = "Clinic default"
CHANGES_SHOWN = 5
# History rows read per table for the page's list of changes: enough for the last few changes, however long the
# clinic's history grows (the page's queries and work stay the same).
HISTORY_ROWS_READ = 50
STALE = (
    "Someone else changed these settings after you opened the page. Nothing has been saved: "
    "the page now shows their settings; make your change again if it is still needed."
)


@dataclass(frozen=True)
class ReminderSettings:
    """The settings as the page shows them, and a version that changes whenever one of them does."""

    text_reminders: bool
    text_reminder_days: tuple[int, ...]
    show_own_scores: bool  # what a patient not in a comparison gets: the clinic's switch and its strategy's
    daily_email_cap: int | None
    daily_text_cap: int | None
    strategy_id: int | None  # the clinic's default strategy; None: the registry's settings

    @property
    def version(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    @property
    def texts_summary(self) -> str:
        return _texts_summary(self.text_reminders, self.text_reminder_days)


def _texts_summary(on: bool, days) -> str:
    days = text_days_of(on, days)
    if not days:
        return "No text reminders"
    return "Text reminders on day " + " and ".join(str(d) for d in days)


def _default_of(clinic: Clinic, *, lock: bool = False) -> ReminderStrategy | None:
    qs = ReminderStrategy.objects.filter(clinic_id=clinic.pk, is_clinic_default=True)
    return (qs.select_for_update() if lock else qs).first()


def _settings(clinic: Clinic, default: ReminderStrategy | None) -> ReminderSettings:
    if default is None:
        texts, days, scores = True, global_text_reminder_days(), True
    else:
        texts, days, scores = (
            default.text_reminders,
            text_days_of(default.text_reminders, default.text_reminder_days),  # no days for texts never sent
            default.show_own_scores,
        )
    return ReminderSettings(
        text_reminders=texts,
        text_reminder_days=days,
        show_own_scores=bool(clinic.show_own_scores) and scores,
        daily_email_cap=clinic.daily_email_cap,
        daily_text_cap=clinic.daily_text_cap,
        strategy_id=default.pk if default else None,
    )


def settings_of(clinic: Clinic) -> ReminderSettings:
    return _settings(clinic, _default_of(clinic))


def may_change(user, clinic: Clinic) -> bool:
    """The clinic's lead (as for comparisons); administrators change them in the Django admin."""
    return may_run_comparisons(user, clinic)


def is_comparison_arm(strategy: ReminderStrategy) -> bool:
    return ReminderComparison.objects.filter(Q(arm_a=strategy) | Q(arm_b=strategy)).exists()


@transaction.atomic
def reminder_settings_change(
    *,
    clinic: Clinic,
    by,
    version: str,
    text_reminders: bool,
    text_reminder_days: list[int],
    show_own_scores: bool,
    daily_email_cap: int | None,
    daily_text_cap: int | None,
    reason: str,
) -> ReminderSettings:
    """Change the clinic's reminder settings, if they are still those of ``version``.

    The default strategy is edited in place, or created by the first change to texts or scores (a clinic that
    only sets a limit keeps following the registry's settings). A default that is an arm of a comparison is never
    edited: a new default takes its place and the arm keeps its settings, so the arm means the same thing from its
    first patient to its last.
    """
    if not may_change(by, clinic):
        raise PermissionDenied("Only the clinic lead changes its reminder settings.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the settings change."})
    # The clinic row is the lock: it exists even when the default strategy does not yet.
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    default = _default_of(clinic, lock=True)
    current = _settings(clinic, default)
    if version != current.version:
        raise ValidationError(STALE, code="stale")

    days = sorted(text_reminder_days or [])
    if text_reminders and not days:
        raise ValidationError({"text_reminder_days": "Give the days to text on, or untick the text reminders."})
    if not text_reminders:
        days = []  # no days kept for texts that are not sent: the page shows what happens
    wanted = _settings_from(clinic, default, text_reminders, days, show_own_scores, daily_email_cap, daily_text_cap)
    if wanted == current:
        raise ValidationError("These are already the clinic's settings: nothing has been saved.", code="unchanged")

    now = timezone.now()  # one time on every history row of this change, so the page shows it as one change

    def stamp(instance):
        instance._history_user = by
        instance._history_date = now
        instance._change_reason = reason[:100]
        return instance

    clinic_before = (clinic.show_own_scores, clinic.daily_email_cap, clinic.daily_text_cap)
    clinic.show_own_scores = show_own_scores
    clinic.daily_email_cap = daily_email_cap
    clinic.daily_text_cap = daily_text_cap
    # Only the fields this page changes: whatever else the clinic's row holds is the administrator's to fix.
    _valid(clinic, fields=("show_own_scores", "daily_email_cap", "daily_text_cap"))

    in_force = (current.text_reminders, current.text_reminder_days, current.show_own_scores)
    strategy_changes = (bool(text_reminders), tuple(days), bool(show_own_scores)) != in_force
    strategy = default
    if default is not None and strategy_changes and is_comparison_arm(default):
        strategy = None  # a new default; the arm stays as it is
    if strategy is None and (strategy_changes or default is not None):
        strategy = ReminderStrategy(clinic=clinic, name=DEFAULT_NAME, is_clinic_default=True)
    if strategy is not None and (strategy_changes or strategy.pk is None):
        strategy.text_reminders = text_reminders
        strategy.text_reminder_days = days
        strategy.show_own_scores = show_own_scores
        _valid(strategy, fields=("text_reminders", "text_reminder_days", "show_own_scores"))

    if default is not None and strategy is not default:
        default.is_clinic_default = False
        stamp(default).save(update_fields=["is_clinic_default"])
    if strategy is not None and (strategy_changes or strategy.pk is None):
        stamp(strategy).save()
    if (clinic.show_own_scores, clinic.daily_email_cap, clinic.daily_text_cap) != clinic_before:
        stamp(clinic).save(update_fields=["show_own_scores", "daily_email_cap", "daily_text_cap"])
    return _settings(clinic, strategy)


def _valid(instance, *, fields: tuple[str, ...]) -> None:
    others = [f.name for f in instance._meta.fields if f.name not in fields]
    instance.clean_fields(exclude=others)  # the check constraints stand behind it in the database


def _settings_from(clinic, default, text_reminders, days, show_own_scores, email_cap, text_cap) -> ReminderSettings:
    return ReminderSettings(
        text_reminders=bool(text_reminders),
        text_reminder_days=tuple(days),
        show_own_scores=bool(show_own_scores),
        daily_email_cap=email_cap,
        daily_text_cap=text_cap,
        strategy_id=default.pk if default else None,
    )


# --- The page's list of changes -----------------------------------------------------------------------------------


@dataclass
class Change:
    at: object
    by: object
    reason: str
    what: list[tuple[str, str, str]] = field(default_factory=list)  # (setting, before, after)


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _limit(value: int | None) -> str:
    return "No limit" if value is None else f"{value:,}"


def _described(state: dict) -> dict[str, str]:
    strategy = state["strategy"]
    texts = (
        _texts_summary(True, global_text_reminder_days()) + f" ({GLOBAL_NAME.lower()})"
        if strategy is None
        else _texts_summary(strategy.text_reminders, strategy.text_reminder_days)
    )
    clinic = state["clinic"]
    scores = clinic is not None and clinic.show_own_scores and (strategy is None or strategy.show_own_scores)
    return {
        "Text reminders": texts,
        "Patients see their own scores after sending a questionnaire": _yes_no(scores),
        "Most patient emails in one day": _limit(clinic.daily_email_cap if clinic else None),
        "Most patient text messages in one day": _limit(clinic.daily_text_cap if clinic else None),
    }


def recent_changes(clinic: Clinic, *, limit: int = CHANGES_SHOWN) -> list[Change]:
    """The last changes to what the page shows, newest first: who, when, what (before and after) and why. Two
    queries, whatever the length of the history. Rows written together (one save on this page) are one change; a
    row that changed nothing the page shows (the clinic's phone number, an arm being created) is left out."""
    clinic_rows = list(
        Clinic.history.filter(id=clinic.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:HISTORY_ROWS_READ]
    )
    strategy_rows = list(
        ReminderStrategy.history.filter(clinic_id=clinic.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:HISTORY_ROWS_READ]
    )
    rows = sorted(clinic_rows + strategy_rows, key=lambda row: row.history_date)
    state: dict = {"clinic": None, "strategy": None, "strategies": {}}
    before = None
    changes: list[Change] = []
    i = 0
    while i < len(rows):
        group = [rows[i]]
        while i + len(group) < len(rows) and rows[i + len(group)].history_date == rows[i].history_date:
            group.append(rows[i + len(group)])
        i += len(group)
        for row in group:
            if isinstance(row, Clinic.history.model):
                state["clinic"] = row
            else:
                state["strategies"][row.id] = row
        defaults = [row for row in state["strategies"].values() if row.is_clinic_default and row.history_type != "-"]
        state["strategy"] = defaults[0] if defaults else None
        after = _described(state)
        if before is not None:
            what = [(name, before[name], after[name]) for name in after if before[name] != after[name]]
            if what:
                row = group[-1]
                reason = next((r.history_change_reason for r in group if r.history_change_reason), "")
                by = next((r.history_user for r in group if r.history_user_id), None)
                changes.append(Change(at=row.history_date, by=by, reason=reason, what=what))
        before = after
    return list(reversed(changes))[:limit]

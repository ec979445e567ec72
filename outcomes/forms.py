"""What the questionnaire templates render, and the small staff forms.

The questionnaire itself is not a Django Form: its items come from the instrument definitions and the posted
values are parsed and validated by ``outcomes.questionnaire.parse`` (the same path for patients, staff entry
and amendments). This module only lays the items out for the template, with each item's current value and the
messages ``parse`` raised for it.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from outcomes import questionnaire
from outcomes.instruments import Instrument, Item
from outcomes.models import FollowUp, FurtherTreatmentKind
from outcomes.models.reminders import validate_text_reminder_days
from registry.models.clinic import MAX_DAILY_CAP


@dataclass
class ItemField:
    instrument: Instrument
    item: Item
    number: int  # question number within its instrument, as shown to the patient
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.instrument.code}.{self.item.code}"

    @property
    def html_id(self) -> str:
        return f"q-{self.instrument.code}-{self.item.code}"

    @property
    def error_id(self) -> str:
        return f"{self.html_id}-error"

    @property
    def kind(self) -> str:
        return self.item.type

    @property
    def choices(self) -> list[dict[str, Any]]:
        if self.item.type == "yesno":
            pairs = [(questionnaire.YES, _("Yes")), (questionnaire.NO, _("No"))]
        else:
            pairs = [(str(o.score), o.label) for o in self.item.options]
        return [
            {"value": v, "label": label, "checked": v == self.value, "id": f"{self.html_id}-{i}"}
            for i, (v, label) in enumerate(pairs)
        ]

    @property
    def anchor_low(self) -> str:
        return self.item.anchors[0] if self.item.anchors else ""

    @property
    def anchor_high(self) -> str:
        return self.item.anchors[1] if len(self.item.anchors) > 1 else ""


@dataclass
class Group:
    title: str
    fields: list[ItemField]


@dataclass
class InstrumentSection:
    instrument: Instrument
    number: int
    total: int
    groups: list[Group]

    @property
    def fields(self) -> list[ItemField]:
        return [f for g in self.groups for f in g.fields]

    @property
    def has_errors(self) -> bool:
        return any(f.errors for f in self.fields)

    @property
    def html_id(self) -> str:
        return f"section-{self.instrument.code}"


def as_form_value(entry: Any) -> str:
    """A stored answer ({"value": ..., "option": ...}) or a raw posted value as the string an input carries."""
    value = entry.get("value") if isinstance(entry, Mapping) else entry
    if isinstance(value, list):
        value = value[-1] if value else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return questionnaire.YES if value else questionnaire.NO
    return str(value)


def values_from_answers(answers: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Stored answers ({"KOOS": {"P1": {"value": 2}}}) as form values ({"KOOS.P1": "2"})."""
    return {f"{code}.{item}": as_form_value(entry) for code, items in answers.items() for item, entry in items.items()}


def display_answers(answers: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Stored answers for reading: "2 (Sometimes)", "yes", or the text, keyed by input name."""
    shown = {}
    for name, value in values_from_answers(answers).items():
        code, item = name.split(".", 1)
        option = answers[code][item].get("option") if isinstance(answers[code][item], Mapping) else None
        shown[name] = f"{value} ({option})" if option else value
    return shown


def values_from_post(data) -> dict[str, str]:
    return {name: as_form_value(data.getlist(name)) for name in data if "." in name}


def build_sections(
    follow_up: FollowUp,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    versions: Mapping[str, str] | None = None,
) -> list[InstrumentSection]:
    """One section per instrument this follow-up asks, in order, with current values and item messages."""
    values, errors = values or {}, errors or {}
    product = questionnaire.product_of(follow_up)
    instruments = questionnaire.instruments_for(follow_up, dict(versions or {}))
    sections = []
    for index, instrument in enumerate(instruments, start=1):
        asked = {i.code for i in instrument.items_for_product(product)}
        groups, number = [], 0
        for sec in instrument.sections:
            fields = []
            for item in instrument.items:
                if item.section != sec.code or item.code not in asked:
                    continue
                number += 1
                f = ItemField(instrument, item, number)
                f.value = values.get(f.name, "")
                f.errors = list(errors.get(f.name, []))
                fields.append(f)
            if fields:
                groups.append(Group(sec.title if len(instrument.sections) > 1 else "", fields))
        sections.append(InstrumentSection(instrument, index, len(instruments), groups))
    return sections


def stray_errors(sections: list[InstrumentSection], errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Messages for inputs that are not on the page (e.g. an unknown input name), shown in the summary."""
    shown = {f.name for s in sections for f in s.fields}
    return {name: msgs for name, msgs in errors.items() if name not in shown}


class YearOfBirthForm(forms.Form):
    year_of_birth = forms.CharField(
        label=gettext_lazy("Your year of birth"),
        max_length=4,
        help_text=gettext_lazy(
            "Four digits, for example 1958. This checks the questionnaire reached the right person."
        ),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "bday-year", "pattern": "[0-9]{4}"}),
    )


class AmendReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the correction",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Required. Kept with the amendment, beside the patient's original answers.",
    )


class FurtherTreatmentForm(forms.Form):
    """A clinician records a further treatment of one of the patient's knees (e.g. from a surgeon's letter)."""

    plan = forms.ModelChoiceField(
        queryset=None, label="Knee and registry treatment", empty_label=None, help_text="The knee it was done on."
    )
    kind = forms.ChoiceField(choices=FurtherTreatmentKind.choices, label="Treatment")
    month = forms.CharField(
        label="Month",
        required=False,
        help_text="Year and month (e.g. 2026-09), if the exact day is not known.",
        widget=forms.TextInput(attrs={"type": "month", "pattern": "[0-9]{4}-[0-9]{2}", "placeholder": "YYYY-MM"}),
    )
    day = forms.DateField(
        label="Day", required=False, help_text="If known.", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        label="Note", required=False, max_length=500, help_text="Optional, e.g. where the information came from."
    )

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["plan"].label_from_instance = lambda plan: str(plan)

    def clean_month(self):
        value = self.cleaned_data["month"].strip()
        if not value:
            return None
        match = questionnaire.MONTH.match(value)
        if not match or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError("Give the year and month, e.g. 2026-09.")
        return dt.date(int(match[1]), int(match[2]), 1)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("month") and not cleaned.get("day") and "month" not in self.errors:
            self.add_error("month", "Give the month (or the day) it happened.")
        return cleaned


class ReminderComparisonForm(forms.Form):
    """A clinic lead's new reminder comparison: the question, the start day and the two arms."""

    clinic = forms.ModelChoiceField(queryset=None, empty_label=None)
    question = forms.CharField(
        max_length=300,
        label="The question, in plain words",
        help_text="For example: does a text on day 7 help more patients answer?",
    )
    starts_on = forms.DateField(
        label="Start on",
        help_text="Patients enrolled from this day are allocated at random.",
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),  # the ISO date a date input needs
    )
    a_name = forms.CharField(max_length=80, label="Arm A: name", initial="Text on day 7")
    a_text_reminders = forms.BooleanField(required=False, initial=True, label="Arm A: send text reminders")
    a_text_reminder_days = forms.CharField(
        required=False, max_length=20, initial="7", label="Arm A: text on days", help_text="e.g. 7 or 7, 12"
    )
    a_show_own_scores = forms.BooleanField(
        required=False, initial=True, label="Arm A: show patients their own scores after they submit"
    )
    b_name = forms.CharField(max_length=80, label="Arm B: name", initial="No text")
    b_text_reminders = forms.BooleanField(required=False, initial=False, label="Arm B: send text reminders")
    b_text_reminder_days = forms.CharField(
        required=False, max_length=20, initial="", label="Arm B: text on days", help_text="e.g. 7 or 7, 12"
    )
    b_show_own_scores = forms.BooleanField(
        required=False, initial=True, label="Arm B: show patients their own scores after they submit"
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics

    def _days(self, arm: str) -> list[int]:
        days = parse_text_days(self.cleaned_data.get(f"{arm}_text_reminder_days", ""))
        if self.cleaned_data.get(f"{arm}_text_reminders") and not days:
            raise forms.ValidationError("Give the days to text on, or untick the text reminders.")
        return days

    def clean_a_text_reminder_days(self):
        return self._days("a")

    def clean_b_text_reminder_days(self):
        return self._days("b")

    def arm(self, arm: str) -> dict:
        data = self.cleaned_data
        return {
            "name": data[f"{arm}_name"],
            "text_reminders": data[f"{arm}_text_reminders"],
            "text_reminder_days": data[f"{arm}_text_reminder_days"],
            "show_own_scores": data[f"{arm}_show_own_scores"],
        }


class ComparisonStopForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why it stops", help_text="For example: enough patients.")


def parse_text_days(raw: str) -> list[int]:
    """ "7, 12" or "7 and 12" as a sorted list of days; the rules are the model's (validate_text_reminder_days)."""
    parts = [part.strip() for part in (raw or "").replace(" and ", ",").split(",") if part.strip()]
    try:
        days = [int(part) for part in parts]
    except ValueError:
        raise forms.ValidationError("Give whole numbers of days, e.g. 7, 12.") from None
    try:
        validate_text_reminder_days(days)
    except forms.ValidationError as error:
        raise forms.ValidationError(error.messages) from None
    return sorted(days)


class ReminderSettingsForm(forms.Form):
    """A clinic lead's reminder settings (outcomes.reminder_settings), with the version of the settings the page
    showed, so a save made after someone else's is refused rather than silently undoing theirs."""

    text_reminders = forms.BooleanField(
        required=False,
        label="Send text reminders",
        help_text="To patients who agreed to texts and have not answered yet. Email always goes first.",
    )
    text_reminder_days = forms.CharField(
        required=False,
        max_length=20,
        label="Text on days",
        help_text="Days after the questionnaire opens: one or two days, e.g. 7 or 7, 12.",
    )
    show_own_scores = forms.BooleanField(
        required=False,
        label="Show patients their own scores after they send a questionnaire",
        help_text="Their own scores for that knee over time, in plain words. Patients in a reminder comparison "
        "get what their arm says.",
    )
    daily_email_cap = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAILY_CAP,
        label="Most patient emails in one day",
        help_text="Leave empty for no limit. Past the limit the rest wait for the next day, oldest first; urgent "
        "safety emails to staff are never held.",
    )
    daily_text_cap = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAILY_CAP,
        label="Most patient text messages in one day",
        help_text="Leave empty for no limit. Past the limit the rest wait for the next day, oldest first.",
    )
    reason = forms.CharField(
        max_length=100,
        label="Why you are changing them",
        help_text="Kept with the change in the clinic's history, e.g. new text provider contract.",
    )
    version = forms.CharField(widget=forms.HiddenInput)

    def clean_text_reminder_days(self):
        return parse_text_days(self.cleaned_data.get("text_reminder_days", ""))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("text_reminders") and "text_reminder_days" in cleaned and not cleaned["text_reminder_days"]:
            self.add_error("text_reminder_days", "Give the days to text on, or untick the text reminders.")
        return cleaned

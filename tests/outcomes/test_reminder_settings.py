"""The clinic lead's reminder settings (outcomes.reminder_settings.reminder_settings_change): a change is saved with
its reason in the history; bad input, a stale page or a clinician changes nothing; a default that is an arm of a
comparison keeps its settings."""

import threading
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from outcomes import reminder_settings, reminders
from outcomes.models import FollowUp, ReminderStrategy
from outcomes.own_scores import offered_to
from outcomes.reminder_settings import recent_changes, reminder_settings_change, settings_of
from registry.models import Clinic
from registry.services import patient_enrol
from tests.factories import PatientFactory, make_injection

pytestmark = pytest.mark.django_db


def change(clinic, by, **overrides):
    clinic.refresh_from_db()  # as a page opened now
    current = settings_of(clinic)
    values = {
        "version": current.version,
        "text_reminders": True,
        "text_reminder_days": [3, 10],
        "show_own_scores": True,
        "daily_email_cap": 200,
        "daily_text_cap": None,
        "reason": "New text provider contract",
    }
    return reminder_settings_change(clinic=clinic, by=by, **values | overrides)


def snapshot(clinic):
    clinic.refresh_from_db()
    rows = list(ReminderStrategy.objects.filter(clinic=clinic).order_by("pk").values())
    return (clinic.show_own_scores, clinic.daily_email_cap, clinic.daily_text_cap, rows, Clinic.history.count())


def test_the_first_change_creates_the_clinic_default_and_patients_get_it(clinic, lead):
    patient = PatientFactory(clinic=clinic)
    assert reminders.strategy_for(patient).strategy_id is None  # the registry's settings until then
    saved = change(clinic, lead)
    default = ReminderStrategy.objects.get(clinic=clinic, is_clinic_default=True)
    assert default.text_reminder_days == [3, 10]
    assert saved.strategy_id == default.pk
    assert reminders.strategy_for(patient).text_reminder_days == (3, 10)
    clinic.refresh_from_db()
    assert clinic.daily_email_cap == 200
    assert clinic.daily_text_cap is None


def test_a_clinic_that_only_sets_a_limit_keeps_the_registry_reminders(clinic, lead):
    change(clinic, lead, text_reminder_days=[7, 12], daily_text_cap=50)
    assert not ReminderStrategy.objects.filter(clinic=clinic).exists()
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 50


def test_a_second_change_edits_the_default_in_place(clinic, lead):
    change(clinic, lead)
    change(clinic, lead, text_reminders=False, text_reminder_days=[], show_own_scores=False)
    default = ReminderStrategy.objects.get(clinic=clinic)
    assert (default.text_reminders, default.text_reminder_days, default.show_own_scores) == (False, [], False)
    assert not offered_to(PatientFactory(clinic=clinic))


def test_every_change_is_in_the_history_with_the_lead_and_the_reason(clinic, lead):
    change(clinic, lead)
    change(clinic, lead, daily_email_cap=None, reason="Budget allows more emails")
    clinic_row = Clinic.history.filter(id=clinic.pk).latest("history_date")
    assert clinic_row.history_user == lead
    assert clinic_row.history_change_reason == "Budget allows more emails"
    strategy_row = ReminderStrategy.history.get(clinic_id=clinic.pk)
    assert strategy_row.history_change_reason == "New text provider contract"
    latest, first = recent_changes(clinic)
    assert latest.reason == "Budget allows more emails"
    assert latest.by == lead
    assert latest.what == [("Most patient emails in one day", "200", "No limit")]
    assert first.reason == "New text provider contract"  # the clinic and strategy rows of one save: one change
    assert (
        "Text reminders",
        "Text reminders on day 7 and 12 (registry default)",
        "Text reminders on day 3 and 10",
    ) in (first.what)


@pytest.mark.parametrize(
    "bad",
    [
        {"text_reminder_days": [0]},
        {"text_reminder_days": [3, 10, 14]},
        {"text_reminder_days": [3, 3]},
        {"text_reminder_days": [999]},
        {"text_reminder_days": []},  # texts on, but no day
        {"daily_email_cap": 0},
        {"daily_text_cap": 1_000_001},
        {"reason": "  "},
    ],
)
def test_invalid_input_leaves_everything_as_it_was(clinic, lead, bad):
    change(clinic, lead, text_reminder_days=[7])
    before = snapshot(clinic)
    with pytest.raises(ValidationError):
        change(clinic, lead, **bad)
    assert snapshot(clinic) == before


def test_a_save_from_a_page_opened_before_another_leads_change_is_refused(clinic, lead):
    version_seen_by_first_lead = settings_of(clinic).version
    change(clinic, lead, daily_text_cap=40, reason="Second lead: text budget")
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as refused:
        change(clinic, lead, version=version_seen_by_first_lead, daily_email_cap=10)
    assert refused.value.code == "stale"
    assert snapshot(clinic) == before
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 40


def test_an_unchanged_form_saves_nothing(clinic, lead):
    change(clinic, lead)
    before = snapshot(clinic)
    with pytest.raises(ValidationError):
        change(clinic, lead, reason="Nothing really")
    assert snapshot(clinic) == before


def test_only_the_clinic_lead_changes_them(clinic, clinician, auditor, outsider, lead):
    for user in (clinician, auditor, outsider):
        with pytest.raises(PermissionDenied):
            change(clinic, user)
    assert not ReminderStrategy.objects.exists()


def test_a_default_that_is_a_comparison_arm_keeps_its_settings_and_a_new_default_takes_its_place(clinic, lead):
    comparison = reminders.comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 help?",
        starts_on=timezone.localdate(),
        arm_a={"name": "Text on day 7", "text_reminder_days": [7]},
        arm_b={"name": "No text", "text_reminders": False},
    )
    arm = comparison.arm_a
    ReminderStrategy.objects.filter(pk=arm.pk).update(is_clinic_default=True)  # as an administrator could
    allocated = patient_enrol(
        clinic=clinic,
        by=lead,
        data={
            "full_name": "Allocated Patient",
            "email": "allocated@example.org",
            "year_of_birth": 1960,
            "sex": "female",
            "consent_on": timezone.localdate(),
            "consent_version": "v1.0",
        },
    )
    before = reminders.strategy_for(allocated)
    change(clinic, lead, text_reminder_days=[2])

    arm.refresh_from_db()
    assert (arm.text_reminders, arm.text_reminder_days, arm.show_own_scores) == (True, [7], True)
    assert not arm.is_clinic_default
    new_default = ReminderStrategy.objects.get(clinic=clinic, is_clinic_default=True)
    assert new_default.pk not in (comparison.arm_a_id, comparison.arm_b_id)
    assert new_default.text_reminder_days == [2]
    assert reminders.strategy_for(allocated) == before  # the allocated patient keeps the arm
    assert reminders.strategy_for(PatientFactory(clinic=clinic)).strategy_id == new_default.pk


# --- two leads saving at once (PostgreSQL) -----------------------------------------------------------------------


@pytest.mark.needs_services("postgres")
def test_two_leads_saving_at_once_one_is_refused_and_no_change_is_lost(transactional_db, monkeypatch, clinic, lead):
    """Both opened the page on the same settings. Lead A's save reads them and holds its transaction open; lead B
    saves meanwhile. B must wait for A's lock and then be told the settings changed, not overwrite A's limit."""
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL's row locks")
    version = settings_of(clinic).version
    a_read, release_a = threading.Event(), threading.Event()
    read_settings = reminder_settings._settings

    def pause_lead_a_after_reading(*args, **kwargs):
        current = read_settings(*args, **kwargs)
        if threading.current_thread().name == "lead-a" and not a_read.is_set():
            a_read.set()
            assert release_a.wait(timeout=30)
        return current

    monkeypatch.setattr(reminder_settings, "_settings", pause_lead_a_after_reading)
    outcome: dict[str, object] = {}

    def save(name: str, cap: int):
        try:
            reminder_settings_change(
                clinic=clinic,
                by=lead,
                version=version,
                text_reminders=True,
                text_reminder_days=[7, 12],
                show_own_scores=True,
                daily_email_cap=cap,
                daily_text_cap=None,
                reason=f"Lead {name}",
            )
            outcome[name] = "saved"
        except ValidationError as error:
            outcome[name] = error.code
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome[name] = error
        finally:
            connection.close()

    lead_a = threading.Thread(target=save, args=("a", 100), name="lead-a")
    lead_a.start()
    assert a_read.wait(timeout=30)
    lead_b = threading.Thread(target=save, args=("b", 900), name="lead-b")
    lead_b.start()
    lead_b.join(timeout=1)
    assert lead_b.is_alive()  # waiting on lead A's lock, not reading the settings A is about to change
    release_a.set()
    lead_a.join(timeout=30)
    lead_b.join(timeout=30)
    assert outcome == {"a": "saved", "b": "stale"}
    assert Clinic.objects.get(pk=clinic.pk).daily_email_cap == 100
    assert Clinic.history.filter(id=clinic.pk, history_change_reason="Lead b").count() == 0


def test_nothing_clinical_reads_the_reminder_settings(clinic, lead, clinician):
    """Windows, scores and flags are the same whatever the settings say: a patient's follow-ups are untouched by a
    change, and the modules that decide them do not read the settings (a guard for future changes)."""
    patient = PatientFactory(clinic=clinic)
    make_injection(patient, clinician)
    fields = ("timepoint", "opens_on", "due_on", "closes_on", "status")
    before = list(FollowUp.objects.filter(patient=patient).order_by("pk").values(*fields))
    assert len(before) >= 3  # baseline, 1 and 6 months at least
    change(clinic, lead, text_reminders=False, text_reminder_days=[], show_own_scores=False, daily_email_cap=1)
    assert list(FollowUp.objects.filter(patient=patient).order_by("pk").values(*fields)) == before
    root = Path(__file__).resolve().parents[2]
    for module in ("outcomes/scoring.py", "outcomes/schedule.py", "safety/rules.py", "outcomes/questionnaire.py"):
        source = (root / module).read_text()
        for name in ("reminder_settings", "daily_email_cap", "daily_text_cap", "show_own_scores"):
            assert name not in source, (module, name)

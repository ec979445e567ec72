"""The registry tests its own reminders: allocation to a reminder comparison's arms at enrolment (random, 1:1 in
permuted blocks of random size, unpredictable, recorded, audited, never changed), one running comparison per
clinic, stopping, and the strategy in force for a patient."""

import datetime as dt
import secrets

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from outcomes import reminders
from outcomes.models import AllocationChanged, ComparisonArm, ReminderAllocation, ReminderComparison, ReminderStrategy
from registry.choices import Role
from registry.services import patient_enrol
from tests.factories import PatientFactory, staff

pytestmark = pytest.mark.django_db

TEXT_DAY_7 = {"name": "Text on day 7", "text_reminders": True, "text_reminder_days": [7]}
NO_TEXT = {"name": "No text", "text_reminders": False, "text_reminder_days": [], "show_own_scores": False}


def start(clinic, lead, **overrides):
    fields = {
        "clinic": clinic,
        "by": lead,
        "question": "Does a text on day 7 help more patients answer?",
        "starts_on": dt.date(2026, 3, 1),
        "arm_a": TEXT_DAY_7,
        "arm_b": NO_TEXT,
    } | overrides
    return reminders.comparison_start(**fields)


def enrol(clinic, by, n: int = 1):
    return [
        patient_enrol(
            clinic=clinic,
            by=by,
            data={
                "full_name": f"Enrolled {i}",
                "email": f"enrolled{i}@example.org",
                "year_of_birth": 1960,
                "sex": "female",
                "consent_on": dt.date(2026, 2, 1),
                "consent_version": "v1.0",
            },
        )
        for i in range(n)
    ]


@pytest.fixture
def comparison(clock, clinic, lead):
    return start(clinic, lead)


def test_next_arm_draws_without_replacement_so_every_block_is_balanced():
    for size in reminders.BLOCK_SIZES:
        for _ in range(50):
            block: list[str] = []
            while len(block) < size:
                block.append(reminders.next_arm(block, size))
            assert block.count(ComparisonArm.A) == block.count(ComparisonArm.B) == size // 2
    with pytest.raises(ValueError, match="already full"):
        reminders.next_arm(["a", "b"], 2)


def test_patients_enrolled_while_it_runs_are_allocated_1_to_1_in_permuted_blocks(comparison, clinic, clinician):
    patients = enrol(clinic, clinician, 60)
    allocations = list(ReminderAllocation.objects.filter(comparison=comparison).order_by("id"))
    assert [a.patient_id for a in allocations] == [p.pk for p in patients]
    blocks: dict[int, list[ReminderAllocation]] = {}
    for allocation in allocations:
        blocks.setdefault(allocation.block, []).append(allocation)
    assert list(blocks) == list(range(1, len(blocks) + 1))  # numbered in order, none skipped
    *complete, last = blocks.values()
    for block in complete:
        sizes = {a.block_size for a in block}
        assert len(sizes) == 1
        assert sizes <= set(reminders.BLOCK_SIZES)
        assert len(block) == block[0].block_size
        assert sum(a.arm == ComparisonArm.A for a in block) == len(block) // 2  # balanced within every block
    assert len(last) <= last[0].block_size
    # The imbalance at any moment is at most half the largest block.
    a = b = 0
    for allocation in allocations:
        a += allocation.arm == ComparisonArm.A
        b += allocation.arm == ComparisonArm.B
        assert abs(a - b) <= max(reminders.BLOCK_SIZES) // 2
    # Block sizes vary (a fixed size lets staff guess the last arm of each block): 2, 4 and 6 all occur in 60
    # patients except with a tiny probability.
    assert len({block[0].block_size for block in blocks.values()}) >= 2
    first = allocations[0]
    assert first.method == reminders.METHOD
    assert "SystemRandom" in first.method
    assert first.strategy == comparison.strategy_of(first.arm)
    assert first.clinic_id == clinic.pk
    assert first.allocated_at is not None


def test_the_draw_comes_from_the_operating_system_not_a_seed(comparison, clinic, clinician, lead, other_clinic):
    assert isinstance(reminders._random, secrets.SystemRandom)
    # The same clinic, the same frozen moment, the same order of enrolment: two runs still draw differently.
    # (Equal sequences of 40 arms in permuted blocks happen with a probability below one in a million.)
    enrol(clinic, clinician, 40)
    first = list(comparison.allocations.order_by("id").values_list("arm", "block_size"))
    other_lead = staff(other_clinic, Role.LEAD, username="lead_south")
    second_comparison = start(other_clinic, other_lead)
    enrol(other_clinic, other_lead, 40)
    second = list(second_comparison.allocations.order_by("id").values_list("arm", "block_size"))
    assert first != second


def test_an_allocation_is_recorded_in_the_audit_trail(comparison, clinic, clinician):
    (patient,) = enrol(clinic, clinician)
    allocation = patient.reminder_allocation
    (row,) = allocation.history.all()
    assert row.history_type == "+"
    assert row.arm == allocation.arm
    assert row.block == allocation.block
    assert row.history_change_reason.startswith("Allocated at enrolment")
    comparison_row = comparison.history.get()
    assert comparison_row.history_user.username == "lead_north"
    assert comparison_row.history_change_reason == "Reminder comparison started"


def test_an_allocation_cannot_be_changed_or_removed(comparison, clinic, clinician):
    (patient,) = enrol(clinic, clinician)
    allocation = patient.reminder_allocation
    allocation.arm = ComparisonArm.B if allocation.arm == ComparisonArm.A else ComparisonArm.A
    with pytest.raises(AllocationChanged):
        allocation.save()
    with pytest.raises(AllocationChanged):
        allocation.delete()
    # Not through the model either: the database refuses (the trigger of migration 0013).
    if connection.vendor == "postgresql":
        for attempt in (
            lambda: ReminderAllocation.objects.filter(pk=allocation.pk).update(arm=allocation.arm),
            lambda: ReminderAllocation.objects.filter(pk=allocation.pk).delete(),
        ):
            with pytest.raises(Exception, match="cannot be changed or removed"), transaction.atomic():
                attempt()
    # A second allocation of the same patient is refused too.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderAllocation.objects.create(
            comparison=comparison,
            patient=patient,
            clinic=clinic,
            arm=ComparisonArm.A,
            strategy=comparison.arm_a,
            method="by hand",
            block=99,
            block_size=2,
        )
    fresh = ReminderAllocation.objects.get(pk=allocation.pk)
    assert fresh.arm != allocation.arm
    assert fresh.history.count() == 1


def test_only_the_clinic_lead_starts_or_stops_a_comparison(clock, clinic, clinician, auditor, lead):
    for user in (clinician, auditor):
        with pytest.raises(PermissionDenied):
            start(clinic, user)
    assert not ReminderComparison.objects.exists()
    assert not ReminderStrategy.objects.exists()
    comparison = start(clinic, lead)
    for user in (clinician, auditor):
        with pytest.raises(PermissionDenied):
            reminders.comparison_stop(comparison=comparison, by=user, reason="Because")
    comparison.refresh_from_db()
    assert comparison.is_running


def test_one_running_comparison_per_clinic(comparison, clinic, lead):
    with pytest.raises(ValidationError, match="already runs"):
        start(clinic, lead)
    # The database holds the rule too, for a concurrent start that passed the check.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderComparison.objects.create(
            clinic=clinic,
            question="Twice?",
            arm_a=comparison.arm_a,
            arm_b=comparison.arm_b,
            starts_on=comparison.starts_on,
            created_by=lead,
        )
    reminders.comparison_stop(comparison=comparison, by=lead, reason="Enough patients")
    assert start(clinic, lead).is_running  # after stopping, the next one may start


def test_bad_input_is_refused_and_nothing_is_stored(clock, clinic, lead):
    bad = [
        {"question": "  "},
        {"starts_on": dt.date(2026, 2, 1)},  # the past
        {"arm_a": TEXT_DAY_7 | {"text_reminder_days": [0]}},
        {"arm_a": TEXT_DAY_7 | {"text_reminder_days": [7, 9, 12]}},
        {"arm_b": TEXT_DAY_7 | {"text_reminder_days": [99]}},  # after the window closes
    ]
    for overrides in bad:
        with pytest.raises(ValidationError):
            start(clinic, lead, **overrides)
    assert not ReminderComparison.objects.exists()
    assert not ReminderStrategy.objects.exists()


def test_allocation_only_while_it_runs_and_from_its_start_day(clock, clinic, clinician, lead):
    from tests.support.clock import at

    enrol(clinic, clinician)  # no comparison yet
    comparison = start(clinic, lead, starts_on=dt.date(2026, 3, 9))
    enrol(clinic, clinician)  # before its start day
    assert not ReminderAllocation.objects.exists()
    clock.move_to(at(2026, 3, 9, 9))
    (allocated,) = enrol(clinic, clinician)
    assert allocated.reminder_allocation.comparison == comparison
    reminders.comparison_stop(comparison=comparison, by=lead, reason="Enough patients")
    (late,) = enrol(clinic, clinician)
    assert not ReminderAllocation.objects.filter(patient=late).exists()
    assert ReminderAllocation.objects.count() == 1


def test_another_clinics_comparison_allocates_nobody_here(comparison, other_clinic):
    other = staff(other_clinic, Role.CLINICIAN, username="dr_south")
    enrol(other_clinic, other, 3)
    assert not ReminderAllocation.objects.exists()


def test_stopping_is_recorded_and_audited_and_patients_keep_their_arm(comparison, clinic, clinician, lead):
    patients = enrol(clinic, clinician, 4)
    before = {p.pk: reminders.strategy_for(p) for p in patients}
    stopped = reminders.comparison_stop(comparison=comparison, by=lead, reason="Enough patients")
    assert stopped.stopped_at is not None
    assert stopped.stopped_by == lead
    assert stopped.stop_reason == "Enough patients"
    latest = stopped.history.first()
    assert latest.history_user == lead
    assert latest.history_change_reason.startswith("Reminder comparison stopped")
    with pytest.raises(ValidationError, match="already stopped"):
        reminders.comparison_stop(comparison=comparison, by=lead, reason="Again")
    with pytest.raises(ValidationError):
        reminders.comparison_stop(comparison=start(clinic, lead), by=lead, reason="  ")
    for patient in patients:
        assert reminders.strategy_for(patient) == before[patient.pk]
        assert before[patient.pk].arm in ComparisonArm.values


def test_the_strategy_in_force_arm_then_clinic_default_then_the_settings(clock, clinic, clinician, lead, settings):
    settings.SMS_REMINDER_DAYS = [7, 12]
    patient = PatientFactory(clinic=clinic)
    effective = reminders.strategy_for(patient)
    assert (effective.strategy_id, effective.text_reminder_days, effective.show_own_scores) == (None, (7, 12), True)
    default = ReminderStrategy.objects.create(
        clinic=clinic, name="Ours", text_reminder_days=[5], show_own_scores=False, is_clinic_default=True
    )
    effective = reminders.strategy_for(patient)
    assert (effective.strategy_id, effective.text_reminder_days, effective.show_own_scores) == (default.pk, (5,), False)
    assert reminders.show_own_scores(patient) is False
    comparison = start(clinic, lead)
    (allocated,) = enrol(clinic, clinician)
    arm = allocated.reminder_allocation.arm
    expected = ((7,), True) if arm == ComparisonArm.A else ((), False)
    effective = reminders.strategy_for(allocated)
    assert (effective.text_reminder_days, effective.show_own_scores, effective.arm) == (*expected, arm)
    assert effective.strategy_id == comparison.strategy_of(arm).pk
    # Texts switched off: no text reminder days, whatever days were written down.
    off = ReminderStrategy(clinic=clinic, name="Off", text_reminders=False, text_reminder_days=[7])
    assert reminders._effective(off).text_reminder_days == ()


def test_one_default_strategy_per_clinic(clinic):
    ReminderStrategy.objects.create(clinic=clinic, name="One", is_clinic_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderStrategy.objects.create(clinic=clinic, name="Two", is_clinic_default=True)


def test_the_auditor_finds_the_allocation_and_the_comparison_in_the_audit_trail(comparison, clinic, clinician, auditor):
    from audit.trail import TrailFilter, recent_events

    (patient,) = enrol(clinic, clinician)
    events = recent_events(auditor, TrailFilter())
    allocation = next(
        e for e in events if e.record_id == str(patient.reminder_allocation.pk) and "llocation" in e.record
    )
    assert allocation.registry_number == patient.registry_number
    assert allocation.event == "created"
    assert allocation.reason.startswith("Allocated at enrolment")
    started = next(e for e in events if e.record_id == str(comparison.pk) and "omparison" in e.record)
    assert started.user == "lead_north"
    assert started.reason == "Reminder comparison started"


def test_an_administrator_sets_a_clinics_default_and_an_arm_stays_fixed(admin_client, comparison, clinic):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:outcomes_reminderstrategy_add"),
        {
            "clinic": clinic.pk,
            "name": "Our default",
            "text_reminders": "on",
            "text_reminder_days": "[5, 40]",
            "show_own_scores": "on",
            "is_clinic_default": "on",
        },
    )
    assert response.status_code == 200  # refused: day 40 is after the window closes
    assert not ReminderStrategy.objects.filter(is_clinic_default=True).exists()
    form = {"clinic": clinic.pk, "name": "Our default", "text_reminders": "on", "is_clinic_default": "on"}
    response = admin_client.post(reverse("admin:outcomes_reminderstrategy_add"), form | {"text_reminder_days": "[5]"})
    assert response.status_code == 302
    default = ReminderStrategy.objects.get(is_clinic_default=True)
    assert default.text_reminder_days == [5]
    assert reminders.strategy_for(PatientFactory(clinic=clinic)).text_reminder_days == (5,)
    arm = reverse("admin:outcomes_reminderstrategy_change", args=[comparison.arm_a_id])
    admin_client.post(arm, {"clinic": clinic.pk, "name": "Changed", "text_reminder_days": "[9]"})
    comparison.arm_a.refresh_from_db()
    assert comparison.arm_a.text_reminder_days == [7]  # an arm is fixed


def test_staff_of_a_clinic_cannot_open_the_strategies_in_the_admin(client, comparison, lead):
    from django.urls import reverse

    lead.is_staff = True
    lead.save()
    client.force_login(lead)
    assert client.get(reverse("admin:outcomes_reminderstrategy_changelist")).status_code == 403

"""The reminder strategy in force for a patient decides which text reminders the sweep queues and sends: their
comparison arm's, else the clinic's default, else SMS_REMINDER_DAYS. Day by day through days 0 to 14 of a
one-month window, with the real sweep (time-machine, no sleeps). Email goes first, the same in every arm."""

import datetime as dt

import pytest

from notifications import services
from notifications.models import Channel, MessageKind, MessageStatus, OutboundMessage
from outcomes import reminders
from outcomes.models import ComparisonArm, ReminderStrategy, Timepoint
from registry.choices import Role
from registry.services import patient_enrol
from tests.factories import ClinicFactory, PatientFactory, make_injection, staff
from tests.support.clock import LONDON, at

pytestmark = pytest.mark.django_db

INJECTED_ON = dt.date(2026, 3, 2)
OPENS_ON = dt.date(2026, 3, 30)  # the one-month window of a 2 March injection


def enrol_textable(clinic, by, name):
    return patient_enrol(
        clinic=clinic,
        by=by,
        data={
            "full_name": name,
            "email": f"{name.lower().replace(' ', '.')}@example.org",
            "phone": "07700 900123",
            "consent_sms_contact": True,
            "year_of_birth": 1960,
            "sex": "female",
            "consent_on": dt.date(2026, 2, 1),
            "consent_version": "v1.0",
        },
    )


def sweep_and_send():
    return services.followups_sweep(dispatch=lambda ids, claim: services.messages_send(ids, claim=claim))


def sent_days(patient, channel) -> dict[str, int]:
    """{kind: day of the window it went on} of what was sent to the patient on this channel (one-month window)."""
    rows = OutboundMessage.objects.filter(
        patient=patient, channel=channel, status=MessageStatus.SENT, follow_up__timepoint=Timepoint.ONE_MONTH
    )
    return {row.kind: (row.sent_at.astimezone(LONDON).date() - OPENS_ON).days for row in rows}


def test_each_patient_gets_the_text_reminders_of_their_strategy_days_0_to_14(clock, clinic, lead, settings, tmp_path):
    settings.MAILBOX_DIR = tmp_path
    settings.SMS_BACKEND = "notifications.sms.DevSmsBackend"
    settings.SMS_REMINDER_DAYS = [7, 12]
    clinician = staff(clinic, Role.CLINICIAN, username="dr_north")
    # A clinic with a default strategy (texts on day 3) and one with none (the settings: days 7 and 12).
    default_clinic, plain_clinic = ClinicFactory(name="Default Clinic"), ClinicFactory(name="Plain Clinic")
    ReminderStrategy.objects.create(clinic=default_clinic, name="Day 5", text_reminder_days=[3], is_clinic_default=True)
    elsewhere = staff(default_clinic, Role.CLINICIAN, username="dr_default")
    plain_staff = staff(plain_clinic, Role.CLINICIAN, username="dr_plain")

    clock.move_to(at(2026, 3, 2, 9))
    reminders.comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 help?",
        starts_on=dt.date(2026, 3, 2),
        arm_a={"name": "Text on day 7", "text_reminders": True, "text_reminder_days": [7]},
        arm_b={"name": "No text", "text_reminders": False, "text_reminder_days": []},
    )
    # Within a block of up to 6, the first four patients hold both arms.
    enrolled = [enrol_textable(clinic, clinician, f"Arm Patient {i}") for i in range(4)]
    by_arm = {p.reminder_allocation.arm: p for p in reversed(enrolled)}
    patients = {
        "text on day 7": by_arm[ComparisonArm.A],
        "no text": by_arm[ComparisonArm.B],
        "clinic default": enrol_textable(default_clinic, elsewhere, "Default Patient"),
        "settings": enrol_textable(plain_clinic, plain_staff, "Plain Patient"),
    }
    treating = {"clinic default": elsewhere, "settings": plain_staff}
    for label, patient in patients.items():
        make_injection(patient, treating.get(label, clinician), injected_on=INJECTED_ON)

    texts_by_day: dict[str, list[int]] = {label: [] for label in patients}
    for day in range(15):  # days 0..14 of the one-month window, at 10:00 clinic time
        clock.move_to(dt.datetime.combine(OPENS_ON + dt.timedelta(days=day), dt.time(10), tzinfo=LONDON))
        sweep_and_send()
        for label, patient in patients.items():
            texts_by_day[label] = sorted(sent_days(patient, Channel.SMS).values())

    assert texts_by_day == {
        "text on day 7": [7],
        "no text": [],
        "clinic default": [3],
        "settings": [7, 12],
    }
    # The text went as the first reminder, on its day; the arm without texts has no text row at all.
    assert sent_days(patients["text on day 7"], Channel.SMS) == {MessageKind.REMINDER_1: 7}
    assert not OutboundMessage.objects.filter(patient=patients["no text"], channel=Channel.SMS).exists()
    # Email goes first and the same for everyone: invitation on day 0, reminders on the same days in every arm.
    emails = {label: sent_days(patient, Channel.EMAIL) for label, patient in patients.items()}
    assert emails["text on day 7"][MessageKind.INVITATION] == 0
    assert len({tuple(sorted(e.items())) for e in emails.values()}) == 1


def test_messages_follow_the_strategy_when_an_injection_date_moves(clock, clinic, clinician):
    from registry.services import injection_update

    ReminderStrategy.objects.create(clinic=clinic, name="Day 4", text_reminder_days=[4], is_clinic_default=True)
    patient = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)
    clock.move_to(at(2026, 3, 30, 9))
    injection = make_injection(patient, clinician, injected_on=INJECTED_ON)
    services.followups_sweep(dispatch=lambda ids, claim: services.messages_release(claim=claim) and None)
    follow_up = injection.plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH)
    text = OutboundMessage.objects.get(follow_up=follow_up, channel=Channel.SMS)
    assert text.scheduled_for.astimezone(LONDON).date() == follow_up.opens_on + dt.timedelta(days=4)
    injection_update(
        injection=injection, by=clinician, data={"injected_on": dt.date(2026, 3, 1)}, reason="Date corrected"
    )
    follow_up.refresh_from_db()
    text.refresh_from_db()
    assert text.status == MessageStatus.PENDING
    assert text.scheduled_for.astimezone(LONDON).date() == follow_up.opens_on + dt.timedelta(days=4)


def test_the_sweep_plans_a_chunk_of_follow_ups_in_a_fixed_number_of_queries(
    clock, clinic, clinician, lead, django_assert_max_num_queries
):
    """The strategy comes with each follow-up from the same query (a join and a subquery), and the strategies'
    days in one more: the number of queries does not grow with the follow-ups or their strategies."""
    from notifications.services.schedule import messages_schedule
    from outcomes.models import FollowUp

    reminders.comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 help?",
        starts_on=dt.date(2026, 3, 2),
        arm_a={"name": "Text on day 7", "text_reminders": True, "text_reminder_days": [7]},
        arm_b={"name": "Day 12", "text_reminders": True, "text_reminder_days": [12]},
    )
    ReminderStrategy.objects.create(clinic=clinic, name="Default", text_reminder_days=[3], is_clinic_default=True)
    for i in range(8):
        patient = enrol_textable(clinic, clinician, f"Query Patient {i}")
        make_injection(patient, clinician, injected_on=INJECTED_ON)
    extra = PatientFactory(clinic=clinic, phone="+447700900123", consent_sms_contact=True)  # not allocated
    make_injection(extra, clinician, injected_on=INJECTED_ON)
    clock.move_to(at(2026, 3, 30, 9))
    ids = list(FollowUp.objects.filter(timepoint=Timepoint.ONE_MONTH).values_list("id", flat=True))
    FollowUp.objects.filter(id__in=ids).update(status="open")
    # 6 on SQLite; PostgreSQL writes the rows with COPY through a temporary table (a few more, as fixed).
    with django_assert_max_num_queries(10):
        result = messages_schedule(follow_up_ids=ids)
    assert result.reminders > 0
    days = {
        (row.patient_id, (row.scheduled_for.astimezone(LONDON).date() - OPENS_ON).days)
        for row in OutboundMessage.objects.filter(channel=Channel.SMS, follow_up_id__in=ids)
    }
    assert (extra.pk, 3) in days  # the clinic's default for the patient outside the comparison
    allocated_days = {d for p, d in days if p != extra.pk}
    assert allocated_days == {7, 12}

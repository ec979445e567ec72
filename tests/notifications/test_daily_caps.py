"""A clinic's daily limits on patient emails and texts (Clinic.daily_email_cap, daily_text_cap): past the limit
the rest of the day's messages wait for the next day's sending window, oldest due first, none lost, none sent
twice, and clinicians see why; urgent safety emails to staff are never held; texts and emails count apart; two
sweeps claiming at once never send more than the limit (PostgreSQL advisory lock)."""

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.models import Channel, DeliveryAttempt, MessageKind, MessageStatus, OutboundMessage
from notifications.services import caps
from notifications.sms import SmsBackend
from tests.factories import PatientFactory, make_injection
from tests.support.clock import at
from tests.support.outbox import sweep


class RecordingSms(SmsBackend):
    """A provider that takes every text: (to, body) in `sent`."""

    sent: list[tuple[str, str]] = []

    def send_text(self, *, to, body, reference):
        RecordingSms.sent.append((to, body))
        return f"rec-{len(RecordingSms.sent)}"


@pytest.fixture
def texts_recorded(settings):
    settings.SMS_BACKEND = "tests.notifications.test_daily_caps.RecordingSms"
    RecordingSms.sent = []
    yield RecordingSms.sent
    RecordingSms.sent = []


def invitations_due(clock, clinic, clinician, count: int, *, texts_only: bool = False) -> list[int]:
    """`count` new patients, each with a baseline invitation due now, a minute apart (oldest first). The
    injection is planned for later in March, so the baseline stays open through the test."""
    channel = Channel.SMS if texts_only else Channel.EMAIL
    rows = OutboundMessage.objects.filter(clinic=clinic, kind=MessageKind.INVITATION, channel=channel)
    before = set(rows.values_list("id", flat=True))
    for n in range(count):
        fields = {"phone": f"+4477009001{n:02d}", "consent_sms_contact": True}
        if texts_only:
            fields["consent_email_contact"] = False
        make_injection(PatientFactory(clinic=clinic, **fields), clinician, injected_on=dt.date(2026, 3, 20))
        clock.shift(dt.timedelta(minutes=1))
    ids = [pk for pk in rows.order_by("scheduled_for", "id").values_list("id", flat=True) if pk not in before]
    assert len(ids) == count
    return ids


@pytest.fixture(autouse=True)
def invitations_only(settings):
    """No reminders and no safety checks: each patient has one message, the invitation, so the counts are the
    limit's alone."""
    settings.NOTIFICATIONS_REMINDER_DAYS = []
    settings.NOTIFICATIONS_FINAL_REMINDER_DAYS_BEFORE_CLOSE = 0
    settings.SMS_REMINDER_DAYS = []
    settings.SAFETY_CHECKS_ENABLED = False


def statuses(ids):
    return dict(OutboundMessage.objects.filter(pk__in=ids).values_list("id", "status"))


def assert_each_sent_once(ids):
    assert set(statuses(ids).values()) == {MessageStatus.SENT}
    attempts = DeliveryAttempt.objects.filter(message_id__in=ids, outcome="sent")
    assert sorted(attempts.values_list("message_id", flat=True)) == sorted(ids)


pytestmark = pytest.mark.django_db
START = at(2026, 3, 2)  # the clock's start (tests/support/clock.py)


def test_past_the_limit_the_rest_wait_for_the_next_morning_oldest_first(clock, clinic, clinician):
    clinic.daily_email_cap = 3
    clinic.save()
    ids = invitations_due(clock, clinic, clinician, 5)
    report = sweep()
    assert report.send.sent == 3
    assert len(mail.outbox) == 3
    first_three, last_two = ids[:3], ids[3:]
    assert set(statuses(first_three).values()) == {MessageStatus.SENT}  # the oldest due went
    held = list(OutboundMessage.objects.filter(pk__in=last_two).order_by("scheduled_for"))
    assert [m.pk for m in held] == last_two  # still in the order they were due
    for message in held:
        assert message.status == MessageStatus.PENDING
        assert message.held_reason == "Daily limit reached"
        # The next day's sending window (09:00 London), within its first minute.
        assert at(2026, 3, 3, 9) <= message.scheduled_for < at(2026, 3, 3, 9, 1)
        assert message.delivery_state() == ("queued", "Queued: daily limit reached")
        assert not message.delivery_attempts.exists()

    # Later the same day: nothing more goes, even a new patient's invitation waits.
    clock.move_to(at(2026, 3, 2, 16))
    (late,) = invitations_due(clock, clinic, clinician, 1)
    assert sweep().send.sent == 0
    assert OutboundMessage.objects.get(pk=late).held_reason == "Daily limit reached"
    assert len(mail.outbox) == 3

    # The next morning: the held ones first, then the later one, and the new day's limit counts from zero.
    clock.move_to(at(2026, 3, 3, 9, 5))
    assert sweep().send.sent == 3
    assert_each_sent_once([*ids, late])
    assert len(mail.outbox) == 6
    assert set(OutboundMessage.objects.filter(pk__in=ids).values_list("held_reason", flat=True)) == {""}
    sent_order = list(OutboundMessage.objects.filter(pk__in=[*last_two, late]).order_by("sent_at", "id"))
    assert [m.pk for m in sent_order] == [*last_two, late]

    # And once more on the following day: nothing is sent twice.
    clock.move_to(at(2026, 3, 4, 10))
    sweep()
    assert_each_sent_once([*ids, late])
    assert len(mail.outbox) == 6


def test_the_day_is_the_clinics_day(clock, clinic, clinician, settings):
    """A clinic in New York: its day starts at its midnight, not London's (sending all day long, to show it)."""
    settings.NOTIFICATIONS_SENDING_HOURS = "00:00-24:00"
    clinic.time_zone = "America/New_York"
    clinic.daily_email_cap = 1
    clinic.save()
    new_york = clinic.tzinfo
    clock.move_to(dt.datetime(2026, 3, 2, 18, 50, tzinfo=new_york))
    (first,) = invitations_due(clock, clinic, clinician, 1)
    assert sweep().send.sent == 1
    # 20:30 in New York is 01:30 on 3 March in London: still the clinic's 2 March, its limit used.
    clock.move_to(dt.datetime(2026, 3, 2, 20, 30, tzinfo=new_york))
    (second,) = invitations_due(clock, clinic, clinician, 1)
    assert sweep().send.sent == 0
    held = OutboundMessage.objects.get(pk=second)
    assert held.scheduled_for.astimezone(new_york).date() == dt.date(2026, 3, 3)
    assert held.scheduled_for.astimezone(new_york).time() < dt.time(0, 1)  # the new day's window opens at midnight
    clock.move_to(dt.datetime(2026, 3, 3, 0, 5, tzinfo=new_york))
    assert sweep().send.sent == 1
    assert_each_sent_once([first, second])


def test_texts_and_emails_are_limited_apart(clock, clinic, clinician, texts_recorded):
    clinic.daily_email_cap = 2
    clinic.daily_text_cap = 1
    clinic.save()
    emails = invitations_due(clock, clinic, clinician, 3)
    texts = invitations_due(clock, clinic, clinician, 3, texts_only=True)
    report = sweep()
    assert report.send.sent == 3
    assert len(mail.outbox) == 2
    assert len(texts_recorded) == 1
    assert [statuses(emails)[pk] for pk in emails] == ["sent", "sent", "pending"]
    assert [statuses(texts)[pk] for pk in texts] == ["sent", "pending", "pending"]
    clock.move_to(at(2026, 3, 3, 9, 30))
    sweep()
    assert len(mail.outbox) == 3
    assert len(texts_recorded) == 2
    clock.move_to(at(2026, 3, 4, 9, 30))
    sweep()
    assert len(texts_recorded) == 3
    assert_each_sent_once(emails + texts)


def test_another_clinics_limit_holds_nothing_here(clock, clinic, other_clinic, clinician, outsider):
    other_clinic.daily_email_cap = 1
    other_clinic.save()
    ours = invitations_due(clock, clinic, clinician, 3)
    theirs = invitations_due(clock, other_clinic, outsider, 3)
    assert sweep().send.sent == 4
    assert_each_sent_once(ours)
    assert [statuses(theirs)[pk] for pk in theirs] == ["sent", "pending", "pending"]


def test_urgent_safety_emails_to_staff_are_never_held(clock, clinic, clinician):
    clinic.daily_email_cap = 1
    clinic.save()
    patient_rows = invitations_due(clock, clinic, clinician, 3)
    urgent = [
        OutboundMessage.objects.create(
            kind=kind, clinic=clinic, recipient_user=clinician, dedupe_key=f"urgent:{kind}", scheduled_for=START
        ).pk
        for kind in (MessageKind.URGENT_FLAG, MessageKind.SERIOUS_EVENT)
    ]
    claimed, _claim = services.messages_claim()
    assert sorted(claimed) == sorted([patient_rows[0], *urgent])
    assert OutboundMessage.objects.filter(pk__in=urgent, held_reason="").count() == 2
    # The limit is used up: a new urgent email still goes at once.
    late = OutboundMessage.objects.create(
        kind=MessageKind.URGENT_FLAG, clinic=clinic, recipient_user=clinician, dedupe_key="urgent:late",
        scheduled_for=timezone.now(),
    )  # fmt: skip
    assert services.messages_claim()[0] == [late.pk]


def test_a_batch_is_filled_past_the_rows_held(clock, clinic, other_clinic, clinician, outsider, settings):
    """Rows held do not shorten the batch: the sweep's loop stops on a short batch, and other clinics' rows due
    behind a capped clinic's would wait a minute for nothing."""
    clinic.daily_email_cap = 1
    clinic.save()
    invitations_due(clock, clinic, clinician, 4)
    theirs = invitations_due(clock, other_clinic, outsider, 2)
    claimed, _claim = services.messages_claim(limit=3)
    assert len(claimed) == 3
    assert set(theirs) <= set(claimed)


def test_sending_hours_apply_to_texts(clock, clinic, clinician, texts_recorded):
    """A text invitation recorded in the evening is planned for the morning, and one found due outside the hours
    (the hours changed) waits for them too, like an email."""
    clock.move_to(at(2026, 3, 2, 21))
    (text,) = invitations_due(clock, clinic, clinician, 1, texts_only=True)
    assert OutboundMessage.objects.get(pk=text).scheduled_for == at(2026, 3, 3, 9)
    OutboundMessage.objects.filter(pk=text).update(scheduled_for=at(2026, 3, 2, 20))
    assert sweep().send.rescheduled == 1
    assert texts_recorded == []
    assert OutboundMessage.objects.get(pk=text).scheduled_for == at(2026, 3, 3, 9)
    clock.move_to(at(2026, 3, 3, 9, 1))
    assert sweep().send.sent == 1
    assert len(texts_recorded) == 1


def test_held_rows_keep_their_order_the_next_day():
    tz = at(2026, 3, 2).tzinfo
    now = at(2026, 3, 2, 15)
    due = [at(2026, 3, 1, 8), at(2026, 3, 2, 9), at(2026, 3, 2, 9) + dt.timedelta(seconds=1), at(2026, 3, 2, 14, 59)]
    moved = [caps.held_until(when, tz=tz, now=now) for when in due]
    assert moved == sorted(moved)
    assert moved[1] < moved[2]
    assert all(at(2026, 3, 3, 9) <= when < at(2026, 3, 3, 9, 1) for when in moved)


# --- two sweeps at once (PostgreSQL) -----------------------------------------------------------------------------


@pytest.mark.needs_services("postgres")
def test_two_sweeps_claiming_at_once_send_exactly_the_limit_each_day(transactional_db, monkeypatch, clinic, clinician):
    """Cap 5, 20 due. Sweep A counts today's messages and stops there, holding the clinic's lock; sweep B takes
    other rows (skip locked) and must wait for A's claim before counting. Then 5 a day, each sent once."""
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL's advisory locks")
    clinic.daily_email_cap = 5
    clinic.save()
    with time_machine.travel(at(2026, 3, 2, 10), tick=False) as clock:
        ids = invitations_due(clock, clinic, clinician, 20)
    a_counted, release_a, b_done = threading.Event(), threading.Event(), threading.Event()
    counted_today = caps._used_today

    def pause_sweep_a_after_counting(keys, now):
        used = counted_today(keys, now)
        if threading.current_thread().name == "sweep-a" and not a_counted.is_set():
            a_counted.set()
            assert release_a.wait(timeout=30)
        return used

    monkeypatch.setattr(caps, "_used_today", pause_sweep_a_after_counting)
    claimed: dict[str, list[int]] = {}
    claims: dict[str, str] = {}
    errors: list[BaseException] = []

    def claim(name: str, done: threading.Event | None = None):
        try:
            claimed[name], claims[name] = services.messages_claim(limit=3)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()
            if done is not None:
                done.set()

    with time_machine.travel(at(2026, 3, 2, 11), tick=True):
        sweep_a = threading.Thread(target=claim, args=("a",), name="sweep-a")
        sweep_a.start()
        assert a_counted.wait(timeout=30)
        sweep_b = threading.Thread(target=claim, args=("b", b_done), name="sweep-b")
        sweep_b.start()
        # B must be waiting on A's lock, not counting the same five as A did.
        assert not b_done.wait(timeout=1)
        release_a.set()
        sweep_a.join(timeout=30)
        sweep_b.join(timeout=30)
        assert not errors, errors
        assert len(claimed["a"]) == 3
        assert len(claimed["b"]) == 2
        assert sorted(claimed["a"] + claimed["b"]) == ids[:5]
        for name in ("a", "b"):
            assert services.messages_send(claimed[name], claim=claims[name]).sent == len(claimed[name])
        assert sweep().send.sent == 0  # the rest are held to tomorrow
    assert OutboundMessage.objects.filter(pk__in=ids[5:], held_reason="Daily limit reached").count() == 15

    for day in (3, 4, 5):
        with time_machine.travel(at(2026, 3, day, 9, 30), tick=True):
            # Two sweeps at once, in threads, each sending what it claims.
            results: list[int] = []

            def sweep_and_send(results=results):
                try:
                    results.append(sweep().send.sent)
                finally:
                    connection.close()

            workers = [threading.Thread(target=sweep_and_send) for _ in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=60)
            assert sum(results) == 5, (day, results)
    assert_each_sent_once(ids)
    assert len(mail.outbox) == 20

"""`manage.py process_followups`: one synchronous sweep (sending inline, no broker) that says what it did."""

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from notifications.models import MessageStatus, OutboundMessage
from tests.factories import make_injection
from tests.support.clock import at

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("process_followups", *args, stdout=out)
    return out.getvalue()


def test_one_sweep_prints_what_it_did(clock, patient, clinician):
    # 1 month open now; the baseline was recorded too late to collect, which is not "missed" (no digest)
    make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))
    clock.move_to(at(2026, 3, 2, 10, 5))
    output = run()
    assert "opened 0" in output
    assert "closed as missed 0" in output
    assert "digests queued 0" in output
    assert "sent 1" in output  # the invitation written when the injection was recorded
    assert "failed 0" in output
    assert len(mail.outbox) == 1

    clock.move_to(at(2026, 4, 24, 0, 5))
    output = run()
    assert "closed as missed 1" in output
    assert "sent 0" in output


def test_no_send_leaves_emails_to_the_workers(clock, patient, clinician, monkeypatch):
    from notifications import tasks

    queued = []
    monkeypatch.setattr(tasks.send_batch, "apply_async", lambda args, **kw: queued.append(args))
    make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))
    output = run("--no-send")
    assert "handed to workers 1" in output  # the invitation (the uncollectable baseline is not missed: no digest)
    assert len(queued) == 1
    assert not mail.outbox
    assert OutboundMessage.objects.filter(status=MessageStatus.SENDING).count() == 1


def test_no_send_with_the_broker_down_fails_loudly_and_keeps_the_rows(clock, patient, clinician, monkeypatch):
    from notifications import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.send_batch, "apply_async", broker_down)
    make_injection(patient, clinician, injected_on=dt.date(2026, 2, 2))
    with pytest.raises(CommandError, match="broker refused 1 emails"):
        run("--no-send")
    assert OutboundMessage.objects.filter(status=MessageStatus.SENDING).count() == 0
    assert OutboundMessage.objects.filter(status=MessageStatus.PENDING).count() == 3  # released, due next sweep


@pytest.mark.parametrize(("args", "message"), [(["--batch-size", "0"], "at least 1"), (["--batch-size", "x"], "int")])
def test_bad_arguments_get_clear_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("process_followups", *args)


def test_unknown_argument_is_refused(db):
    with pytest.raises(CommandError, match="unrecognized arguments"):
        call_command("process_followups", "--frobnicate")

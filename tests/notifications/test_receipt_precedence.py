"""The precedence rule (notifications/receipts.py): callbacks come late, twice and out of order, and a long text
may be reported part by part. A failure is never hidden; an older step never undoes a newer one."""

import datetime as dt

import pytest

from notifications.receipts import Seen, current_state, read_anymail, read_notify, read_twilio

T0 = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


def at(minutes):
    return T0 + dt.timedelta(minutes=minutes)


def test_no_receipt_no_state():
    assert current_state([]) == ("", "")


def test_an_older_sending_does_not_undo_delivered():
    assert current_state([Seen("delivered", at=at(5)), Seen("sent", at=at(1))])[0] == "delivered"


def test_a_later_delivered_does_not_hide_an_earlier_failure():
    receipts = [Seen("failed_temporary", "phone off", at=at(1)), Seen("delivered", at=at(9))]
    assert current_state(receipts) == ("failed_temporary", "phone off")


def test_a_failed_part_fails_the_text_whatever_the_other_parts_say():
    receipts = [Seen("failed_permanent", "no such number", segment="1"), Seen("delivered", segment="2")]
    assert current_state(receipts) == ("failed_permanent", "no such number")


def test_a_text_is_only_as_far_as_its_least_advanced_part():
    assert current_state([Seen("delivered", segment="1"), Seen("sent", segment="2")])[0] == "sent"


def test_the_worst_failure_wins():
    receipts = [Seen("failed_permanent", "bounced"), Seen("complained"), Seen("failed_temporary")]
    assert current_state(receipts)[0] == "complained"


def test_a_soft_bounce_then_delivery_is_delivered():
    assert current_state([Seen("deferred", "mailbox full"), Seen("delivered")])[0] == "delivered"


@pytest.mark.parametrize(
    ("status", "state", "problem"),
    [
        ("created", "queued", ""),
        ("sending", "sent", ""),
        ("delivered", "delivered", ""),
        ("permanent-failure", "failed_permanent", "invalid_number"),
        ("temporary-failure", "failed_temporary", ""),
        ("technical-failure", "failed_temporary", ""),
    ],
)
def test_notify_statuses(status, state, problem):
    reading = read_notify(status)
    assert (reading.state, reading.problem) == (state, problem)


@pytest.mark.parametrize(
    ("status", "code", "state", "problem"),
    [
        ("queued", "", "queued", ""),
        ("sending", "", "sent", ""),
        ("sent", "", "sent", ""),
        ("delivered", "", "delivered", ""),
        ("undelivered", "30003", "failed_temporary", ""),
        ("undelivered", "30005", "failed_permanent", "invalid_number"),
        ("failed", "30006", "failed_permanent", "invalid_number"),
        ("failed", "21610", "failed_permanent", "opted_out"),
        ("failed", "", "failed_temporary", ""),
    ],
)
def test_twilio_statuses_and_error_codes(status, code, state, problem):
    reading = read_twilio(status, code)
    assert (reading.state, reading.problem) == (state, problem)
    if code:
        assert code in reading.reason


def test_anymail_events():
    assert read_anymail("bounced").state == "failed_permanent"
    assert read_anymail("bounced", "550 no such user").reason == "550 no such user"
    assert read_anymail("deferred").state == "deferred"
    assert read_anymail("complained").state == "complained"
    assert read_anymail("opened").state == "opened"
    assert read_anymail("unsubscribed") is None
    assert read_twilio("mystery") is None
    assert read_notify("mystery") is None

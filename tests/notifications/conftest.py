"""Helpers for the outbox tests: a clock in clinic time, inline sweeps, complete answers and failing mail."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend

from notifications import services
from notifications.services import TransportError
from outcomes.models import FollowUp
from outcomes.questionnaire import instruments_for, product_of
from outcomes.services import questionnaire_submit
from tests.journeys import journey  # noqa: F401 - a fixture, shared with the safety tests

LONDON = zoneinfo.ZoneInfo("Europe/London")


def at(year, month, day, hour=10, minute=0, tz=LONDON) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def send_inline(ids, claim):
    return services.messages_send(ids, claim=claim)


def sweep():
    """One sweep, sending inline (what `process_followups` does)."""
    return services.followups_sweep(dispatch=send_inline)


def answers_for(follow_up: FollowUp) -> dict:
    """A complete, valid set of answers for the follow-up's questionnaire (no safety concerns)."""
    data = {}
    for instrument in instruments_for(follow_up):
        for item in instrument.items_for_product(product_of(follow_up)):
            name = f"{instrument.code}.{item.code}"
            if item.type == "choice":
                data[name] = str(item.options[0].score)
            elif item.type == "slider":
                data[name] = str(item.min)
            elif item.type == "yesno":
                data[name] = "no"
    return data


def complete(follow_up: FollowUp):
    follow_up.refresh_from_db()
    return questionnaire_submit(follow_up=follow_up, data=answers_for(follow_up))


@pytest.fixture
def clock():
    """A controllable clock; starts on Monday 2 March 2026, 10:00 in London (inside sending hours)."""
    with time_machine.travel(at(2026, 3, 2), tick=False) as traveller:
        yield traveller


class FailingBackend(EmailBackend):
    """A mail server that fails in the way the test sets (TransportError or any SMTP exception)."""

    error: BaseException | None = None

    def send_messages(self, messages):
        if FailingBackend.error is not None:
            raise FailingBackend.error
        return super().send_messages(messages)


@pytest.fixture
def failing_mail(settings):
    settings.EMAIL_BACKEND = "tests.notifications.conftest.FailingBackend"
    FailingBackend.error = TransportError("421 try again later", permanent=False)
    yield FailingBackend
    FailingBackend.error = None

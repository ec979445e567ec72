"""Fixtures of the outbox tests: a mail server that fails on demand. The clock (tests/support/clock.py) starts
on Monday 2 March 2026, 10:00 in London, inside sending hours."""

import pytest
from django.core.mail.backends.locmem import EmailBackend

from notifications.services import TransportError


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

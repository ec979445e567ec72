"""Wrong passwords are counted per username AND address (django-axes, database rows); past the limit sign-in
from that address for that username pauses, and the pause ends by itself."""

import threading
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD


def attempt(user, password, ip="10.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(reverse("login"), {"username": user.username, "password": password})


def fail_until_locked(user, ip="10.0.0.1"):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(user, "wrong password", ip)


def test_the_limit_locks_that_username_from_that_address(clinician):
    assert settings.AXES_FAILURE_LIMIT <= 10
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(clinician, "wrong password").status_code == 200  # the form again, with an error
    locked = attempt(clinician, "wrong password")
    assert locked.status_code == 429
    # Even the right password is refused from there while locked.
    assert attempt(clinician, PASSWORD).status_code == 429


def test_nobody_elsewhere_can_lock_a_clinician_out(clinician):
    fail_until_locked(clinician, ip="203.0.113.9")  # an attacker's address
    response = attempt(clinician, PASSWORD, ip="10.0.0.1")  # the clinician at work
    assert response.status_code == 302


def test_other_usernames_from_the_same_address_are_not_locked(clinician, lead):
    fail_until_locked(clinician)
    assert attempt(lead, PASSWORD).status_code == 302


def test_the_lockout_ends_by_itself(clinician, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    fail_until_locked(clinician)
    assert attempt(clinician, PASSWORD).status_code == 429
    # Hammering during the lockout does not extend it.
    time_machine.shift(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    assert attempt(clinician, "wrong password").status_code == 429
    time_machine.shift(timedelta(minutes=2))
    assert attempt(clinician, PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_count(clinician):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(clinician, "wrong password")
    assert attempt(clinician, PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(clinician, "wrong password")
    assert attempt(clinician, PASSWORD).status_code == 302


def test_the_lockout_page_never_echoes_the_password(clinician):
    fail_until_locked(clinician)
    response = attempt(clinician, "hunter2-Secret")
    assert b"hunter2-Secret" not in response.content


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_are_all_counted_on_postgres(postgres_required, clinician):
    """Twice the limit of simultaneous wrong passwords: every one is counted (no lost update), so the lockout
    holds; a counter read-modify-written without a lock would let several through uncounted."""
    threads_count = settings.AXES_FAILURE_LIMIT * 2
    barrier = threading.Barrier(threads_count)
    statuses: list[int] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            statuses.append(attempt(clinician, "wrong password").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == threads_count
    counted = AccessAttempt.objects.get(username=clinician.username).failures_since_start
    assert counted >= settings.AXES_FAILURE_LIMIT
    assert attempt(clinician, PASSWORD).status_code == 429

"""Sessions end after inactivity (SESSION_COOKIE_AGE, renewed on every request) and at an absolute age; the
password rules are Django's validators."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD


@pytest.fixture
def signed_in(client, clinician, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    assert client.post(reverse("login"), {"username": clinician.username, "password": PASSWORD}).status_code == 302
    return client


def test_settings_are_what_the_guarantee_says():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE <= 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_ABSOLUTE_AGE_SECONDS <= 12 * 60 * 60


def test_an_idle_session_expires(signed_in, time_machine):
    url = reverse("registry:patient-list")
    time_machine.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE - 60))
    assert signed_in.get(url).status_code == 200  # activity renews it
    time_machine.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE - 60))
    assert signed_in.get(url).status_code == 200
    time_machine.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE + 1))
    response = signed_in.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_an_active_session_still_ends_at_its_absolute_age(signed_in, time_machine):
    url = reverse("registry:patient-list")
    step = timedelta(seconds=settings.SESSION_COOKIE_AGE // 2)
    elapsed = timedelta(0)
    while elapsed < timedelta(seconds=settings.SESSION_ABSOLUTE_AGE_SECONDS):
        assert signed_in.get(url).status_code == 200
        time_machine.shift(step)
        elapsed += step
    time_machine.shift(timedelta(minutes=1))
    response = signed_in.get(url)
    assert response.status_code == 302
    assert "_auth_user_id" not in signed_in.session


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("8675309245611", "entirely numeric"),
        ("dr_north_knee", "too similar"),
    ],
)
def test_weak_passwords_are_refused(clinician, password, rule):
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user=clinician)
    assert rule in " ".join(caught.value.messages)


def test_a_strong_password_is_accepted(clinician):
    validate_password("violet-glacier-marmalade-42", user=clinician)

import pytest
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.support.journeys import DAY_BEFORE


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock_start():
    """The questionnaire fixtures (token, baseline) are recorded the day before the injection, 10:00 London."""
    return DAY_BEFORE


@pytest.fixture
def clock_ticks():
    return True


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


@pytest.fixture
def enrolled():
    """Give a user a confirmed authenticator device."""

    def enrol(user) -> TOTPDevice:
        return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    return enrol

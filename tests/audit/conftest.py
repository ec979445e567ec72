"""The audit trail's tests: history rows, the access log, the trail's pages and export, erasure."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()

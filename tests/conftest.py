"""Personas every permission test uses: a clinician, their clinic lead, an auditor, and an outsider from
another clinic who must see nothing."""

import os

import pytest
from rest_framework.test import APIClient

from registry.choices import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory, make_injection, staff


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="North Knee Clinic")


@pytest.fixture
def other_clinic(db):
    return ClinicFactory(name="South Knee Clinic")


@pytest.fixture
def clinician(clinic):
    return staff(clinic, Role.CLINICIAN, username="dr_north")


@pytest.fixture
def lead(clinic):
    return staff(clinic, Role.LEAD, username="lead_north")


@pytest.fixture
def auditor(clinic):
    return staff(clinic, Role.AUDITOR, username="auditor")


@pytest.fixture
def outsider(other_clinic):
    return staff(other_clinic, Role.CLINICIAN, username="dr_south")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def injection(patient, clinician):
    return make_injection(patient, clinician)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as(api):
    def login(user):
        api.force_authenticate(user)
        return api

    return login


pytest_plugins = ["tests.service_checks", "tests.faults.report", "tests.support.clock", "tests.support.journeys"]


def pytest_configure(config):
    # A test database needs no durability: without waiting for each commit's fsync (3-4 ms on CI's disk) the
    # transactional tests, the seeds and the real-process tests commit thousands of times faster. libpq reads
    # PGOPTIONS, so it also reaches the workers and servers the tests start (not those given a container's clean
    # environment). Visibility and locking are unchanged: only a crash of PostgreSQL itself could lose a commit.
    os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")
    # Every persona has a password and one PBKDF2 hash costs about 0.5 s on a 2-core CI machine: hash fast in tests.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The longest tests, longest first (seconds on a quiet 2-core machine). The run ends when its last test ends: started
# last, these left one xdist worker running alone for five minutes while the other sat idle. Started first, they
# overlap, and with `--dist worksteal` (Makefile) the idle worker takes the short tests queued behind them.
LONGEST_FIRST = (
    "tests/test_production_smoke.py",  # 100 s: compose's commands started for real
    "tests/e2e/test_every_page.py",  # 4 x 50 s: every page as each persona, axe-core
    "tests/bench/",  # 65 s: make bench at tiny sizes
    "tests/faults/",  # 90 s: workers, Redis and the mail server broken on purpose
    "tests/security/test_no_server_errors.py",
    "tests/security/test_permission_matrix.py",
    "tests/test_image_build.py",
    "tests/e2e/",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    # PostgreSQL only (CI, make test with DATABASE_URL): on the laptop's SQLite, the migration tests remake tables
    # (dropping their plan-outcome triggers) and the browser tests flush the role groups, and later tests on the
    # same worker depend on both, so SQLite keeps the collection order it was proven in.
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return

    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: collection order within each rank

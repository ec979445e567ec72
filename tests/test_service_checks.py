"""The service-check plugin: a missing service skips on a laptop and fails the run in CI."""

from pathlib import Path

import pytest
from django.conf import settings

from tests import service_checks

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

SUITE = """
import pytest

def test_passes():
    pass

def test_needs_redis():
    pytest.skip("needs service: Redis not reachable at redis://127.0.0.1:1/0 (ConnectionError)")

def test_skips_for_another_reason():
    pytest.skip("only on Windows")
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """Run an inner pytest session with only this plugin loaded (no Django)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

    def run(source: str | dict, *args: str, ci: bool):
        if ci:
            monkeypatch.setenv("CI", "true")
        else:
            monkeypatch.delenv("CI", raising=False)
        pytester.makepyfile(**(source if isinstance(source, dict) else {"test_inner": source}))
        return pytester.runpytest_inprocess(
            "-p", "tests.service_checks", "-p", "no:django", "-p", "no:playwright", "-p", "no:cacheprovider", *args
        )

    return run


def test_laptop_skip_passes_and_lists_what_ci_would_run(run):
    result = run(SUITE, "-rs", ci=False)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*skipped for missing services*", "*test_inner.py::test_needs_redis: needs service*"])


def test_ci_fails_the_run_when_a_service_test_skipped(run):
    result = run(SUITE, ci=True)
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*services missing in CI*", "*1 test(s) skipped for a missing service*"])
    assert "test_skips_for_another_reason" not in result.stdout.str().split("services missing in CI")[1]


def test_ci_accepts_other_skips(run):
    result = run("import pytest\n\ndef test_x():\n    pytest.skip('only on Windows')\n", ci=True)
    assert result.ret == pytest.ExitCode.OK


def test_ci_fails_with_xdist_too(run):
    result = run(SUITE, "-n", "2", ci=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*services missing in CI*", "*test_needs_redis*"])


def test_ci_fails_on_a_module_level_browser_skip(run):
    browser = "import pytest\npytest.skip('needs service: chromium not found', allow_module_level=True)\n"
    result = run({"test_browser": browser, "test_other": "def test_ok():\n    pass\n"}, ci=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*needs service: chromium not found*"])


def test_marker_skips_when_redis_is_unreachable_and_ci_fails(run, monkeypatch):
    # The inner run shares this process's settings: point both the broker and REDIS_URL at nothing.
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", "filesystem://")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    source = "import pytest\n\n@pytest.mark.needs_services('redis')\ndef test_x():\n    raise AssertionError\n"
    laptop = run(source, "-rs", ci=False)
    laptop.assert_outcomes(skipped=1)
    laptop.stdout.fnmatch_lines(["*needs service: Redis not reachable at redis://127.0.0.1:1/0*"])
    assert run(source, ci=True).ret == pytest.ExitCode.TESTS_FAILED


def test_unknown_service_name_is_a_usage_error(run):
    source = "import pytest\n\n@pytest.mark.needs_services('mongo')\ndef test_x():\n    pass\n"
    result = run(source, ci=False)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*unknown service*mongo*"])


def test_postgres_check_names_the_setting_to_set(monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")
    assert service_checks.postgres_missing().startswith(
        "needs service: PostgreSQL not configured (set DATABASE_URL=postgres://"
    )
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.postgresql")
    assert service_checks.postgres_missing() is None


def test_redis_url_prefers_the_redis_broker(monkeypatch):
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", "redis://broker.example:6380/2")
    assert service_checks.redis_url() == "redis://broker.example:6380/2"
    monkeypatch.setattr(settings, "CELERY_BROKER_URL", "filesystem://")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert service_checks.redis_url() == "redis://127.0.0.1:6379/0"


def test_each_session_has_its_own_celery_queue():
    from config.celery import app

    options = app.conf.broker_transport_options
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert "var" not in Path(options["data_folder_in"]).parts[-3:]
        assert Path(options["data_folder_in"]).is_dir()
        assert options["control_folder"] != str(settings.VAR_DIR / "celery" / "control")
    else:
        assert options["global_keyprefix"].startswith("test-")

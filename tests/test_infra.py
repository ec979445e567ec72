"""The deployment and developer files agree with the code: compose, Dockerfile, Makefile, CI script, README."""

import re
import runpy
import stat
from pathlib import Path

import pytest
import yaml

from tests.support.imports import dependencies, module_cycles, private_imports, source_files, violations
from tests.test_settings import settings_env_vars

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_five_services_and_a_mail_catcher(compose):
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailpit"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    web = " ".join(services["web"]["command"])
    assert "gunicorn -c config/gunicorn.py config.wsgi" in web
    gunicorn_conf = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert gunicorn_conf["workers"] == 3
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert "deploy" not in services["beat"] or services["beat"]["deploy"].get("replicas", 1) == 1


@pytest.mark.parametrize("service", ["web", "worker", "beat", "postgres", "redis", "mailpit"])
def test_long_running_services_have_health_checks(compose, service):
    check = compose["services"][service]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check["interval"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_wait_for_healthy_services_and_migrations(compose, service):
    depends = compose["services"][service]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_web_asks_its_health_endpoint_and_worker_and_beat_the_age_of_the_last_sweep(compose):
    assert compose["services"]["web"]["healthcheck"]["test"] == ["CMD", "python", "bin/healthcheck.py"]
    assert "/health/" in (ROOT / "bin" / "healthcheck.py").read_text()
    for service in ("worker", "beat"):
        test = compose["services"][service]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "manage.py", "check_liveness"]
        assert "--max-sweep-age" in test


def test_migrations_run_once_before_the_app(compose):
    migrate = compose["services"]["migrate"]
    assert "manage.py migrate --noinput" in " ".join(migrate["command"])
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_state_lives_in_named_volumes(compose):
    assert {"postgres-data", "redis-data", "media", "beat"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_run_in_production_with_settings_that_exist(compose, service):
    environment = compose["services"][service]["environment"]
    assert environment["DJANGO_ENV"] == "production"
    unknown = set(environment) - settings_env_vars()
    assert not unknown, f"compose sets variables config/settings.py never reads: {sorted(unknown)}"
    for required in ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL", "ALLOWED_HOSTS", "FHIR_SYSTEM_URI"):
        assert required in environment
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert "${SECRET_KEY:?" in environment["SECRET_KEY"]  # no default secret, ever
    assert "${FHIR_SYSTEM_URI:?" in environment["FHIR_SYSTEM_URI"]  # no placeholder system for exported records


def test_dockerfile_is_slim_and_runs_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users
    assert users[-1] not in ("root", "0")
    assert "collectstatic" in dockerfile


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", ".env"} <= ignored


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:\w+)?\n(.*?)```", readme, re.S).group(1)
    assert first_block.split() == ["make", "run", "make", "test"]
    assert readme.index("make run") < readme.index("## ")


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", table, re.M))
    missing = settings_env_vars() - documented
    assert not missing, f"add to README.md's Configuration table: {sorted(missing)}"
    stale = documented - settings_env_vars()
    assert not stale, f"README.md documents variables config/settings.py no longer reads: {sorted(stale)}"


def test_makefile_has_the_two_commands_and_bootstraps_a_venv():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "install:"):
        assert re.search(rf"^{target}", makefile, re.M), target
    assert "$(UV) pip install" in makefile
    assert "pyproject.toml" in makefile  # re-install when dependencies change
    assert "seed_demo" in makefile
    assert "rundemo" in makefile


def test_ci_script_is_strict_and_uses_the_readme_test_command():
    script = ROOT / ".ci" / "run"
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert "export CI=true" in text
    assert re.search(r"^make test$", text, re.M)
    assert "playwright install" not in text.replace("never `playwright install`", "")
    for step in ("ruff check", "makemigrations --check", "manage.py check", "pg_isready", "redis-cli"):
        assert step in text


def test_healthcheck_script_is_executable():
    assert (ROOT / "bin" / "healthcheck.py").stat().st_mode & stat.S_IXUSR


# --- The import rule: imports point down --------------------------------------------------------------------
# registry <- outcomes <- safety <- notifications; audit above registry (notifications writes its access log);
# accounts above audit and registry; demo above all of them. An app above reacts to one below through domain
# signals, or hands its selectors in at start-up (safety -> outcomes.analysis), never by being imported from below.
MAY_IMPORT = {
    "registry": set(),
    "audit": {"registry"},
    "outcomes": {"registry"},
    "safety": {"registry", "outcomes"},
    "notifications": {"registry", "outcomes", "safety", "audit"},
    "consultations": {"registry", "outcomes", "safety", "audit"},
    "accounts": {"registry", "audit"},
    "demo": {"registry", "outcomes", "safety", "notifications", "consultations", "audit", "accounts"},
}


def test_imports_point_down_the_layers_only():
    found = violations(ROOT, MAY_IMPORT)
    assert not found, "imports must point down (tests/test_infra.py MAY_IMPORT):\n" + "\n".join(found)


def test_the_import_rule_covers_every_app():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps == set(MAY_IMPORT), "add the app to MAY_IMPORT (and to README.md's architecture section)"
    assert all(MAY_IMPORT[app] < set(MAY_IMPORT) for app in MAY_IMPORT)
    architecture = (ROOT / "README.md").read_text().split("## Architecture", 1)[1].split("\n## ", 1)[0]
    assert all(f"- `{app}/`" in architecture for app in MAY_IMPORT), "describe every app in README's Architecture"


def test_no_import_cycle_between_modules():
    cycles = module_cycles(ROOT, MAY_IMPORT)
    assert not cycles, f"import cycles between modules: {cycles}"


def test_settings_import_no_app_code():
    deps = {d.target.split(".")[0] for d in dependencies(ROOT, ROOT / "config" / "settings.py")}
    assert not deps & set(MAY_IMPORT), "settings import no app code: name classes by string, schedules in celery.py"


def test_the_beat_schedule_lives_with_the_celery_app_and_names_real_tasks():
    from config.celery import app

    schedule = app.conf.beat_schedule
    assert {"notifications.followups_sweep", "outcomes.refresh_plan_outcomes"} <= set(schedule)
    app.loader.import_default_modules()
    unknown = {entry["task"] for entry in schedule.values()} - set(app.tasks)
    assert not unknown, f"beat names tasks no app registers: {sorted(unknown)}"


def test_private_names_are_not_imported_across_modules():
    found = private_imports(ROOT, [*MAY_IMPORT, "bench", "config"])
    assert not found, "make the name public or keep it in its module:\n" + "\n".join(found)


def test_no_hidden_dependencies_or_bolted_on_imports():
    for path in source_files(ROOT, [*MAY_IMPORT, "config"]):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        assert "is_installed(" not in text, f"{name}: an installed app is imported, not guessed at"
    assert "importlib" not in (ROOT / "demo" / "management" / "commands" / "seed_demo.py").read_text()


SYNTHETIC_APPS = {
    "low/__init__.py": "",
    "low/models.py": "from django.db import models\n\nclass Thing(models.Model):\n    pass\n",
    "low/a.py": "import low.b\n",
    "low/b.py": "from low import a\n",
    "low/top.py": "from high.views import page\n",
    "low/late.py": "def f():\n    from high import views\n",
    "low/lookup.py": 'from django.apps import apps\n\ndef f():\n    return apps.get_model("high", "Thing")\n',
    "low/dotted.py": 'from django.apps import apps\n\nMODEL = apps.get_model("high.Thing")\n',
    "low/loader.py": 'import importlib\n\nSYNTH = importlib.import_module("high.synth")\n',
    "low/fk.py": 'from django.db import models\n\nclass Other(models.Model):\n    t = models.ForeignKey("high.T")\n',
    "low/typing_only.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from high import views\n",
    "low/migrations/0001_initial.py": 'X = ("high", "Thing")\nfrom high import models\n',
    "high/__init__.py": "",
    "high/views.py": "from low.models import Thing\nfrom low.a import _private\n\ndef page():\n    pass\n",
}


def test_the_import_checker_finds_every_kind_of_violation(tmp_path):
    for name, text in SYNTHETIC_APPS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = violations(tmp_path, {"low": set(), "high": {"low"}})
    assert sorted(line.split(":")[0] for line in found) == [
        "low/dotted.py",
        "low/fk.py",
        "low/late.py",
        "low/loader.py",
        "low/lookup.py",
        "low/top.py",
    ]
    assert any("import in a function" in line for line in found)
    assert module_cycles(tmp_path, ["low", "high"]) == [["low.a", "low.b"]]
    assert private_imports(tmp_path, ["low", "high"]) == ["high/views.py:2: low.a._private"]
    assert violations(tmp_path, {"low": {"high"}, "high": {"low"}}) == []


def test_history_manager_class_is_built_once_per_model():
    """registry.history: reading Model.history (done for every audit-trail row written) reuses one class."""
    from outcomes.models import FollowUp, Submission
    from registry.models import Patient

    for model in (Patient, FollowUp, Submission):
        assert type(model.history) is type(model.history)
        assert model.history.model.__name__ == f"Historical{model.__name__}"


def test_ci_installs_every_program_a_test_skips_without():
    """A test that skips for a missing program ("needs service: wrk ...") fails CI, so .ci/run installs it."""
    programs = {"chromium"}  # tests/e2e: /usr/bin/chromium
    for path in (ROOT / "tests").rglob("*.py"):
        programs |= set(re.findall(r'shutil\.which\("([\w-]+)"\)', path.read_text()))
    script = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install" in script
    for program in sorted(programs):
        assert f"missing+=({program})" in script, f".ci/run must install {program} when it is missing"


def test_pre_commit_runs_ruff_and_the_import_rule():
    hooks = {
        hook["id"]: hook
        for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
        for hook in repo["hooks"]
    }
    assert {"ruff-check", "ruff-format", "import-rule"} <= set(hooks)
    assert "tests/test_infra.py" in hooks["import-rule"]["entry"]
    selected = hooks["import-rule"]["entry"].split("-k ", 1)[1].strip('"')
    assert all(word in selected for word in ("import", "cycle"))


def test_contributing_decisions_and_changelog_are_there():
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    for section in ("## Set-up", "## Tests", "## Benchmarks", "an instrument", "a product protocol", "a flag rule"):
        assert section in contributing
    decisions = " ".join(p.name for p in (ROOT / "docs" / "decisions").glob("0*.md"))
    for subject in ("outbox", "summary", "copy", "signals"):
        assert subject in decisions
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_template_comments_are_one_line_or_comment_tags():
    """Django's {# #} comment ends at the line's end: a comment spread over lines is printed into the page (one
    was, on every patient page). Longer comments use {% comment %}."""
    spread = [
        f"{path}:{number}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert not spread, spread


def test_staging_shows_texts_in_the_mail_catcher(compose):
    """docker-compose.staging.yml, on top of docker-compose.yml: every app service sends texts, like emails, to
    mailpit; its variables are settings that exist, and the backend it names is a text transport."""
    from django.utils.module_loading import import_string

    from notifications.sms import SmsBackend

    staging = yaml.safe_load((ROOT / "docker-compose.staging.yml").read_text())
    for service in (*APP_SERVICES, "migrate"):
        environment = staging["services"][service]["environment"]
        assert set(environment) <= settings_env_vars()
        assert environment["SMS_BACKEND"] == "notifications.sms.MailCatcherSmsBackend"
        assert environment["EMAIL_URL"] == "smtp://mailpit:1025"
        assert service in compose["services"]
    assert issubclass(import_string("notifications.sms.MailCatcherSmsBackend"), SmsBackend)
    assert "mailpit" in compose["services"]
    # Production configures a real provider through the base file's environment.
    base = compose["services"]["worker"]["environment"]
    providers = {"NOTIFY_API_KEY", "NOTIFY_SMS_TEMPLATE_ID", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"}
    assert providers <= set(base)
    assert "docker-compose.staging.yml" in (ROOT / "docker-compose.yml").read_text()
    assert "docker-compose.staging.yml" in (ROOT / "Makefile").read_text()  # `make compose-check` validates it

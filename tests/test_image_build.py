"""The Dockerfile's build, without Docker: its Python steps run here as `docker build` runs them (same commands,
same ENV, on a copy of the build context less .dockerignore), so a step that would break the image fails a test.
Steps that only install (pip, useradd) are left to Docker; the requirements they install are checked below."""

import json
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from tests.deployment import BuiltImage, built_image, compose, dockerfile, image_command, session_folder


@pytest.fixture(scope="session")
def image(tmp_path_factory) -> BuiltImage:
    return built_image(session_folder(tmp_path_factory))


def test_every_python_build_step_succeeds(image):
    commands = " | ".join(step.command for step in image.steps)
    assert "collectstatic" in commands
    assert "tomllib" not in commands  # the requirements step is a here-document: its body ran too (see below)
    for step in image.steps:
        assert step.returncode == 0, f"{step.command}\n{step.output}"


def test_static_files_are_collected_with_hashed_names(image):
    static = image.static_root
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["vendor/chartjs/chart.umd.js"]
    assert hashed != "vendor/chartjs/chart.umd.js"
    assert (static / hashed).exists()
    assert "js/questionnaire.js" in manifest


def test_the_image_installs_what_pyproject_declares_and_the_tests_ran_with(image):
    lines = (image.root / "tmp" / "requirements.txt").read_text().split("\n")
    requirements = [Requirement(line) for line in lines if line.strip()]
    assert {r.name.lower() for r in requirements} >= {"django", "gunicorn", "celery", "psycopg"}
    for requirement in requirements:
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            pytest.fail(f"{requirement} is not installed in the test environment")
        assert requirement.specifier.contains(installed, prereleases=True), f"{requirement}: {installed}"


def test_the_image_command_is_the_compose_web_command():
    assert image_command() == compose()["services"]["web"]["command"]


# What the web, worker and beat processes import at start-up: a new major release of any of them can stop
# production from starting, so pyproject.toml allows only the majors the tests ran with.
STARTUP_DEPENDENCIES = {
    "django", "gunicorn", "celery", "kombu", "psycopg", "redis", "whitenoise", "django-environ", "django-otp",
    "django-axes", "django-csp", "djangorestframework", "drf-spectacular", "django-simple-history", "django-anymail",
}  # fmt: skip


def test_start_up_dependencies_have_an_upper_bound():
    declared = {Requirement(line).name.lower(): Requirement(line) for line in _project_dependencies()}
    transitive = STARTUP_DEPENDENCIES - set(declared)
    assert transitive == {"kombu"}, "only kombu comes through another package (celery pins it to its own minor)"
    bounded = {
        name for name, req in declared.items() if any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier)
    }
    unbounded = sorted(STARTUP_DEPENDENCIES - transitive - bounded)
    assert not unbounded, f"add an upper bound in pyproject.toml: {unbounded}"


def _project_dependencies() -> list[str]:
    import tomllib
    from pathlib import Path

    return tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]


def test_the_image_has_the_system_libraries_weasyprint_loads():
    """python:3.11-slim has no Pango: without it the first CIOMS PDF fails in production (the tests' machine has
    it, so only the Dockerfile can be checked). WeasyPrint's documented Debian packages for its wheels."""
    installs = " ".join(i.args for i in dockerfile() if i.name == "RUN" and "apt-get install" in i.args)
    assert "weasyprint" in " ".join(_project_dependencies())
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert package in installs.split(), package

"""The Dockerfile's build, without Docker: its Python steps run here as `docker build` runs them (same commands,
same ENV, on a copy of the build context less .dockerignore), so a step that would break the image fails a test.
Steps that only install (pip, useradd) are left to Docker; the requirements they install are checked below."""

import json
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from tests.deployment import built_image, compose, image_command


def test_every_python_build_step_succeeds():
    steps = built_image().steps
    commands = " | ".join(command for command, _ in steps)
    assert "collectstatic" in commands
    assert "tomllib" not in commands  # the requirements step is a here-document: its body ran too (see below)
    for command, result in steps:
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_static_files_are_collected_with_hashed_names():
    static = built_image().static_root
    manifest = json.loads((static / "staticfiles.json").read_text())["paths"]
    hashed = manifest["vendor/chartjs/chart.umd.js"]
    assert hashed != "vendor/chartjs/chart.umd.js"
    assert (static / hashed).exists()
    assert "js/questionnaire.js" in manifest


def test_the_image_installs_what_pyproject_declares_and_the_tests_ran_with():
    lines = (built_image().root / "tmp" / "requirements.txt").read_text().split("\n")
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

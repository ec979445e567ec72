"""Gunicorn starts with config/gunicorn.py, and its access log never carries a questionnaire token (its records
bypass Django's logging). Proved on a real gunicorn process: applying the dict by itself once hid that gunicorn
merges it into its own defaults and refused to start."""

import logging.config
import runpy
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from gunicorn.glogging import CONFIG_DEFAULTS

from tests.processes import free_port, minimal_env, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "gunicorn.py"


def test_the_logging_dict_stands_alone_in_gunicorns_merge():
    """Gunicorn does `CONFIG_DEFAULTS.copy().update(logconfig_dict)`: a top-level key we leave out is taken from
    its defaults, whose root logger names handlers ours replaces. So every key of the defaults is ours."""
    config = runpy.run_path(str(CONFIG))["logconfig_dict"]
    assert set(CONFIG_DEFAULTS) <= set(config)
    merged = {**CONFIG_DEFAULTS, **config}
    logging.config.dictConfig(merged)  # what gunicorn does at start-up; raised "Unable to configure root logger"
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})


def test_gunicorn_starts_and_its_access_log_redacts_tokens(tmp_path):
    port = free_port()
    env = minimal_env(
        VAR_DIR=str(tmp_path / "var"),
        # The command is the Dockerfile's; only the address and the worker count come from the environment.
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port} --workers 1",
    )
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    token = secrets.token_urlsafe(32)
    try:

        def answers() -> bool:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/q/{token}/", timeout=5)
            except urllib.error.HTTPError:
                return True  # any status: the request reached Django and was logged
            except OSError:
                return False
            return True

        wait_until(answers, "gunicorn to answer", timeout=30)
        wait_until(lambda: "/q/[redacted]/" in (tmp_path / "gunicorn.log").read_text(), "the access log line")
    finally:
        stop(server)
        log.close()
    output = (tmp_path / "gunicorn.log").read_text()
    assert "Unable to configure" not in output
    assert token not in output
    assert '"GET /q/[redacted]/ HTTP/1.1"' in output

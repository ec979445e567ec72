"""Gunicorn's access log never carries a questionnaire token (its records bypass Django's logging)."""

import io
import logging
import logging.config
import runpy
from pathlib import Path

from django.conf import settings


def test_access_log_lines_have_the_token_redacted(monkeypatch):
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "config" / "gunicorn.py"))
    stream = io.StringIO()
    config["logconfig_dict"]["handlers"]["access"]["stream"] = stream
    config["logconfig_dict"]["handlers"]["access"].pop("class")
    config["logconfig_dict"]["handlers"]["access"]["()"] = lambda stream: logging.StreamHandler(stream)
    logging.config.dictConfig(config["logconfig_dict"])
    token = "Zx9" * 15
    # Gunicorn logs the access format with a dict of atoms as the record's args.
    logging.getLogger("gunicorn.access").info(
        '%(h)s "%(r)s" %(s)s', {"h": "10.0.0.1", "r": f"GET /q/{token}/ HTTP/1.1", "s": "200"}
    )
    line = stream.getvalue()
    assert "/q/[redacted]/" in line
    assert token not in line

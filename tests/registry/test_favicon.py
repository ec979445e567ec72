"""Every page names an icon, and /favicon.ico answers for the pages and clients that do not ask for it by name
(the API's JSON in a browser, a downloaded CSV): no 404 in the logs on every page view."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


def test_favicon_ico_is_served_at_the_root(db):
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_the_svg_icon_named_by_the_pages_is_a_static_file():
    found = finders.find("favicon.svg")
    assert found
    assert Path(found).read_bytes().lstrip().startswith(b"<svg")


@pytest.mark.parametrize("path", ["/accounts/login/", "/q/not-a-real-token/", "/unsubscribe/not-a-token/"])
def test_staff_and_patient_pages_link_the_icon(db, path):
    html = Client().get(path).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html

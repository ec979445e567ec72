"""Error pages: staff get the site's layout, their navigation and a way back; a patient on a questionnaire or
unsubscribe link gets plain words and nothing of the staff site; the API keeps answering JSON. The 500 page is
rendered without a request context (no context processors, no database), as Django's own handler does."""

import pytest
from django.test import Client, RequestFactory
from django.urls import path

from config import urls as site_urls
from registry import views_errors

SITE_STYLESHEET = 'href="/static/css/site.css"'
STAFF_NAV = 'aria-label="Main"'


def _boom(request):
    raise RuntimeError("a bug")


# The site's URLs plus pages that fail, under the staff site, the questionnaire and the API (pytest.mark.urls).
urlpatterns = [
    path("patients/boom/", _boom),
    path("q/boom/", _boom),
    path("unsubscribe/boom/", _boom),
    path("api/v1/boom/", _boom),
    *site_urls.urlpatterns,
]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


def _page(response) -> str:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return response.content.decode()


def assert_staff_layout(html: str, *, signed_in: bool):
    assert '<html lang="en-gb" dir="ltr">' in html
    assert SITE_STYLESHEET in html
    assert "Knee Outcomes Registry" in html
    assert 'rel="icon"' in html
    assert (STAFF_NAV in html) is signed_in


def assert_patient_layout(html: str):
    assert '<html lang="en-gb" dir="ltr">' in html
    assert 'href="/static/css/questionnaire.css"' in html
    assert STAFF_NAV not in html
    assert "Sign out" not in html
    assert "/patients/" not in html  # no way into the staff site
    assert "contact your clinic" in html


def test_a_permission_error_shows_the_layout_the_reason_and_a_way_back(client, auditor):
    client.force_login(auditor)
    response = client.get("/patients/new/", HTTP_REFERER="http://testserver/patients/")
    assert response.status_code == 403
    html = _page(response)
    assert_staff_layout(html, signed_in=True)
    assert "<h1>You do not have permission to do this</h1>" in html
    assert 'href="/patients/">Back to the page you came from</a>' in html


def test_a_way_back_never_leads_off_the_site(client, auditor):
    client.force_login(auditor)
    html = _page(client.get("/patients/new/", HTTP_REFERER="https://evil.example/phish"))
    assert "evil.example" not in html
    assert 'href="/attention/"' in html  # the landing page instead


def test_not_found_for_staff_has_the_layout_and_navigation(client, outsider, patient):
    client.force_login(outsider)
    response = client.get(f"/patients/{patient.registry_number}/")
    assert response.status_code == 404
    html = _page(response)
    assert_staff_layout(html, signed_in=True)
    assert "<h1>Page not found</h1>" in html
    assert patient.registry_number not in html.split("<main", 1)[1]  # the address is not echoed back


def test_not_found_when_signed_out_offers_sign_in(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _page(response)
    assert_staff_layout(html, signed_in=False)
    assert 'href="/accounts/login/"' in html


def test_a_bad_request_has_the_layout(client, db):
    response = client.get("/patients/", HTTP_HOST="not-our-host.example")
    assert response.status_code == 400
    html = _page(response)
    assert_staff_layout(html, signed_in=False)
    assert "<h1>Bad request</h1>" in html


@pytest.mark.urls(__name__)
def test_a_server_error_has_the_layout_without_any_request_context(db):
    response = Client(raise_request_exception=False).get("/patients/boom/")
    assert response.status_code == 500
    html = _page(response)
    assert_staff_layout(html, signed_in=False)
    assert "<h1>Something went wrong</h1>" in html
    assert "a bug" not in html


def test_the_500_page_needs_no_database_and_no_context_processors(settings):
    """No `db` fixture here: pytest-django refuses any query. A context processor that fails is never run."""
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "OPTIONS": {"context_processors": ["tests.registry.test_error_pages.broken"]}}
    ]
    response = views_errors.server_error(RequestFactory().get("/patients/"))
    assert response.status_code == 500
    assert_staff_layout(response.content.decode(), signed_in=False)


def broken(request):
    raise AssertionError("the 500 page ran a context processor")


@pytest.mark.parametrize("prefix", ["/q/", "/unsubscribe/"])
@pytest.mark.urls(__name__)
def test_a_patient_never_sees_the_staff_site_in_an_error(prefix, client, clinician):
    client.force_login(clinician)  # a clinic tablet may be signed in
    not_found = client.get(f"{prefix}some-token/no-such-page/")
    assert not_found.status_code == 404
    assert_patient_layout(_page(not_found))
    failed = Client(raise_request_exception=False)
    failed.force_login(clinician)
    error = failed.get(f"{prefix}boom/")
    assert error.status_code == 500
    assert_patient_layout(_page(error))


def test_an_expired_form_on_a_questionnaire_says_what_to_do(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/q/some-token/", {"KOOS.S1": "1"})
    assert response.status_code == 403
    html = _page(response)
    assert_patient_layout(html)
    assert "reload" in html.lower()


def test_an_expired_form_for_staff_has_the_layout(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    response = client.post("/patients/new/", {"full_name": "x"})
    assert response.status_code == 403
    html = _page(response)
    assert_staff_layout(html, signed_in=True)
    assert "CSRF" not in html  # Django's jargon, not the user's


@pytest.mark.urls(__name__)
def test_api_errors_stay_json(clinician):
    client = Client(raise_request_exception=False)
    client.force_login(clinician)
    assert client.get("/api/v1/no-such-thing/").json() == {"detail": "Not found."}
    error = client.get("/api/v1/boom/")
    assert error.status_code == 500
    assert error.json() == {"detail": "A server error occurred."}
    bad = client.get("/api/v1/patients/", HTTP_HOST="not-our-host.example")
    assert bad.status_code == 400
    assert bad.json() == {"detail": "Bad request."}
    assert views_errors.permission_denied(RequestFactory().get("/api/v1/x/"), None)["Content-Type"] == (
        "application/json"
    )


def test_the_api_answers_json_to_a_browser_too(clinician):
    """No browsable HTML pages under /api/: people read the API at /api/docs/ (audited in the browser tests)."""
    client = Client()
    client.force_login(clinician)
    response = client.get("/api/v1/patients/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"

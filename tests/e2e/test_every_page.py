"""Every page a user can reach, in a real browser, on a desktop (1366 px) and a phone (390 px): axe-core finds no
violation (WCAG 2.2 A/AA and best practices), the page is never wider than the screen, nothing is drawn over
its neighbour, and no label reads "[invalid name]". Screenshots of each page go to var/e2e-screenshots/ (or
$E2E_SCREENSHOT_DIR) to look at after a run.

The pages come from the URL conf (tests/security/routes.py, as the permission matrix reads it), with their
parameters filled from the demo's data as each persona sees it, so a new page is visited without anyone adding
it here; a new kind of parameter fails `path_for` until it is given an object below. Each persona (clinician,
lead, auditor, administrator) signs in and asks for every GET route: HTML answers (200, and the 403/404 pages a
persona meets) are audited; answers that are not pages are named and counted: JSON of the API, downloads,
POST-only actions (405).

Not visited: the Django admin (admin/). It is Django's own interface, not this project's; its templates and
their accessibility are Django's to fix (the admin is for administrators, who also use every page below).
"""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from consultations.reviews import reviews_for
from consultations.selectors import consultations_for
from demo import synth
from demo.management.commands.seed_demo import read_logins
from notifications.selectors import messages_for
from outcomes.analysis import tables
from outcomes.models import FollowUpStatus
from outcomes.reminders import comparisons_for
from outcomes.selectors import follow_ups_for, submissions_for
from registry.models import Injection
from registry.scoping import clinics_for, patients_for
from safety.choices import ExportFormat
from safety.models import ExportJob
from safety.selectors import events_for, flags_for
from tests.e2e.checks import page_problems
from tests.e2e.conftest import PHONE
from tests.security.routes import all_routes, path_for

DESKTOP = {"width": 1366, "height": 900}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# Pages that finish drawing after "load" (Swagger UI fetches the schema, then renders it).
READY = {"api-docs": "#swagger-ui .opblock"}
# The patient's own pages (token links) are visited on a phone in test_patient_pages.py, in every state (the
# patient's copy of a consultation in test_patient_copy.py).
PATIENT_ROUTES = ("outcomes:questionnaire", "notifications:unsubscribe", "patient-copy:")
# Routes that need a query to show their page (without it they answer 404, which is audited too).
QUERIES = {"safety:event-new": lambda objects: f"?patient={objects['registry_number']}"}
# Answers for programs, not people: the load balancer's health check (JSON) and Prometheus's /metrics (text; without
# its token outside DEBUG it is a 404 page, audited like any other).
MACHINE_ROUTES = ("notifications:health", "notifications:metrics")


@pytest.fixture
def demo(settings, tmp_path):
    """`make run`'s demo data (two clinics, the four logins, a dozen patients), with a synthetic registry of 150
    injections around them (half the demo's: the same pages, shorter tables)."""
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", "--injections", "150", stdout=io.StringIO())
    return read_logins(tmp_path / "demo-logins.txt")


def objects_for(user) -> dict:
    """One object of each kind the routes name, as this user sees it: the showcase patient with the most
    injections (a staged plan, both knees), and what hangs off that patient where there is one."""
    patient = (
        patients_for(user)
        .exclude(consent_version=synth.CONSENT_VERSION)
        .annotate(n=Count("injections"))
        .order_by("-n", "pk")
        .first()
    )
    follow_ups = follow_ups_for(user)
    open_follow_up = follow_ups.filter(status=FollowUpStatus.OPEN).order_by("pk").first() or follow_ups.first()
    return {
        "registry_number": patient.registry_number,
        "injection": Injection.objects.filter(patient=patient).order_by("pk").first().pk,
        "follow-up": open_follow_up.pk,
        "follow_up_id": open_follow_up.pk,
        "submission": submissions_for(user).filter(amendments__isnull=False).order_by("pk").first().pk
        if submissions_for(user).filter(amendments__isnull=False).exists()
        else submissions_for(user).order_by("pk").first().pk,
        "flag": flags_for(user).order_by("pk").first().pk,
        "event": events_for(user).order_by("pk").first().pk,
        "clinic": clinics_for(user).order_by("pk").first().pk,
        "patient": patient.pk,
        "message": messages_for(user).order_by("pk").first().pk,
        "export-job": ExportJob.objects.create(
            requested_by=user, format=ExportFormat.values[0], expires_at=timezone.now()
        ).pk,
        "q-token": "not-used-here",
        "unsubscribe-token": "not-used-here",
        "copy-token": "not-used-here",
        "clinic_id": clinics_for(user).order_by("pk").first().pk,  # the clinic's text for patients
        "table": sorted(tables.BUILDERS)[0],
        "code": "KOOS",
        # The demo's consultations (seed_demo CONSULTATIONS).
        "consultation": consultations_for(user).order_by("pk").values_list("pk", flat=True).first(),
        # The demo's fallback reviews (seed_demo REVIEWS): the reviewed course, for the record and edit pages.
        "review-detail": reviews_for(user).order_by("pk").values_list("pk", flat=True).first(),
        "plan_id": reviews_for(user).order_by("pk").values_list("plan_id", flat=True).first(),
        # The demo's running reminder comparison (seed_demo: text on day 7 or not).
        "reminder-comparison": comparisons_for(user).order_by("pk").values_list("pk", flat=True).first(),
    }


def audit(page, url: str, route_name: str, name: str) -> list[str]:
    """Open `url` on this page (one viewport) and return what is wrong with it. Every axe rule runs at the desktop
    width; at the phone's, the rules that depend on the layout (checks.LAYOUT_RULES)."""
    response = page.goto(url)
    if route_name in READY:
        page.wait_for_selector(READY[route_name])
    return page_problems(page, f"{name}-{response.status}", layout_only=page.viewport_size != DESKTOP)


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "admin"])
def test_every_page_a_persona_reaches_passes_axe_and_fits_the_screen(
    persona, demo, unwatched_page, live_server, sign_in
):
    user = get_user_model().objects.get(username=persona)
    objects = objects_for(user)
    pages = {viewport: unwatched_page(viewport=size) for viewport, size in VIEWPORTS.items()}
    for page in pages.values():
        sign_in(page, user, demo[persona])
        assert "/accounts/login/" not in page.url, f"{persona} could not sign in"

    visited, not_pages, failures = [], {}, []
    for route in all_routes():
        if route.is_admin or route.name.startswith(PATIENT_ROUTES):
            continue
        path = path_for(route, objects) + QUERIES.get(route.name, lambda o: "")(objects)
        url = f"{live_server.url}{path}"
        answer = pages["desktop"].request.get(url, max_redirects=5)
        kind = answer.headers.get("content-type", "")
        if answer.status == 405:
            not_pages[route.name] = "POST only"
            continue
        if "attachment" in answer.headers.get("content-disposition", ""):
            not_pages[route.name] = "download"
            continue
        if not kind.startswith("text/html"):
            assert route.route.startswith("api/") or route.name in MACHINE_ROUTES, (
                f"{route.name} answers {answer.status} {kind}: neither page nor API"
            )
            not_pages[route.name] = kind.split(";")[0]
            continue
        visited.append((route.name, answer.status))
        for viewport, page in pages.items():
            name = f"{persona}-{viewport}-{route.name.replace(':', '-')}"
            for problem in audit(page, url, route.name, name):
                failures.append(f"{path} ({viewport}, {answer.status}): {problem}")

    assert len(visited) >= 25, (visited, not_pages)  # the crawl really walked the site
    assert {"notifications:attention", "outcomes:dashboard", "registry:patient-detail", "api-docs"} <= {
        name for name, _ in visited
    }
    assert not failures, f"{persona}: {len(failures)} problems\n" + "\n".join(failures)

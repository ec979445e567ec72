"""Pages that only read (lists, detail pages, dashboards, downloads) answer POST with 405, so a stray or forged
POST can never look like it did something; pages with forms and actions still take their POST.

Walks every server-rendered route of the URL resolver (the permission matrix's list, with its real objects in the
paths). A page in neither list below fails the test by name: whoever adds one decides which it is.
"""

import time_machine
from django.test import Client

from tests.security.test_permission_matrix import MATRIX_AT, app_routes, path_for
from tests.security.test_permission_matrix import world as world  # the matrix's objects, as a fixture here too

READ_ONLY = {
    "consultations:consultation-list",
    "consultations:consultation-detail",
    "consultations:patient-copy-pdf",
    "consultations:fallback-paths",
    "consultations:review-list",
    "consultations:fallback-paths-csv",
    "patient-copy:page",
    "patient-copy:pdf",
    "registry:home",
    "registry:patient-list",
    "registry:patient-detail",
    "registry:injection-detail",
    "outcomes:questionnaire-thanks",
    "outcomes:questionnaire-own-scores",
    "outcomes:submission-detail",
    "outcomes:dashboard",
    "outcomes:dashboard-csv",
    "outcomes:knee-replacement",
    "outcomes:knee-replacement-csv",
    "outcomes:reminder-comparisons",
    "outcomes:reminder-comparison",
    "outcomes:reminder-comparison-csv",
    "outcomes:patient-trajectory",
    "safety:flag-list",
    "safety:flag-detail",
    "safety:event-list",
    "safety:event-detail",
    "safety:event-cioms",
    "safety:export-job",
    "safety:export-job-download",
    "notifications:attention",
    "notifications:chase-list",
    "notifications:dev-mailbox",
    "notifications:ops",
    "notifications:metrics",
    "notifications:health",
    "audit:trail",
    "audit:export",
}

# Forms (GET shows them, POST submits) and actions (POST only). Exports start with a POST.
TAKES_POST = {
    "outcomes:reminder-comparison-new",
    "outcomes:reminder-comparison-stop",
    "outcomes:reminder-settings",
    "consultations:consultation-new",
    "consultations:consultation-edit",
    "consultations:patient-copy-issue",
    "consultations:patient-copy-revoke",
    "consultations:decision-aid-text",
    "consultations:export-consultations",
    "consultations:export-reviews",
    "consultations:review-record",
    "consultations:review-edit",
    "registry:patient-enrol",
    "registry:patient-edit",
    "registry:patient-withdraw",
    "registry:injection-new",
    "registry:injection-edit",
    "outcomes:further-treatment-new",
    "outcomes:questionnaire",
    "outcomes:questionnaire-check",
    "outcomes:questionnaire-draft",
    "outcomes:questionnaire-opened",
    "outcomes:follow-up-tablet",
    "outcomes:follow-up-enter",
    "outcomes:submission-amend",
    "safety:flag-start-review",
    "safety:flag-dismiss",
    "safety:flag-record-event",
    "safety:event-new",
    "safety:event-correct",
    "safety:event-report-new",
    "safety:export-page",
    "notifications:call-attempt",
    "notifications:ops-message-requeue",
    "notifications:unsubscribe",
    "notifications:notify-receipt",
    "notifications:twilio-status",
    "notifications:email-tracking",
    "login",
    "logout",
    "two-factor-verify",
    "two-factor-setup",
    "two-factor-backup-codes",
    "api-token",
    "clinic-two-factor",
}


def pages():
    # The API's methods are DRF's (the permission matrix and the OpenAPI schema cover them).
    return [r for r in app_routes() if not r.route.startswith("api/")]


def test_every_page_is_read_only_or_takes_post():
    names = {r.name for r in pages()}
    unlisted = sorted(names - READ_ONLY - TAKES_POST)
    assert not unlisted, f"add these pages to READ_ONLY or TAKES_POST in {__name__}: {unlisted}"
    stale = sorted((READ_ONLY | TAKES_POST) - names)
    assert not stale, f"no such pages any more: {stale}"
    assert not READ_ONLY & TAKES_POST


def test_read_only_pages_refuse_post_and_forms_still_take_it(world):
    """As the clinic's lead, who may open and change everything there: a refusal here is the method's, not a
    missing right."""
    objects, users = world
    client = Client(raise_request_exception=False)
    client.force_login(users["lead"])
    wrong = []
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in pages():
            url = path_for(route, objects)
            posted = client.post(url, {}).status_code
            if route.name in READ_ONLY:
                got = client.get(url).status_code
                if posted != 405 or got == 405:
                    wrong.append(f"{route.name}: POST {posted} (want 405), GET {got}")
            elif posted == 405:
                wrong.append(f"{route.name}: POST 405, but it takes a form or an action")
    assert not wrong, "\n".join(wrong)


# Read-only, but GET only: a download (a HEAD would build and log the export for no file), or a page whose
# reading uses something up.
GET_ONLY = {
    "outcomes:dashboard-csv",
    "outcomes:reminder-comparison-csv",
    "outcomes:knee-replacement-csv",
    "safety:event-cioms",
    "safety:export-job-download",  # also deletes an expired file
    "audit:export",
    "outcomes:questionnaire-thanks",  # reading takes the thanks out of the session
    "consultations:patient-copy-pdf",
    "consultations:fallback-paths-csv",
    "patient-copy:pdf",
    "patient-copy:page",  # reading records when the patient opened their copy
}


def test_read_only_pages_answer_head_like_get(world):
    objects, users = world
    client = Client(raise_request_exception=False)
    client.force_login(users["lead"])
    checked = 0
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in pages():
            url = path_for(route, objects)
            if route.name in GET_ONLY:
                assert client.head(url).status_code == 405, route.name
            elif route.name in READ_ONLY:
                head, get = client.head(url), client.get(url)
                assert head.status_code == get.status_code != 405, route.name
                assert head.content == b"", route.name
                checked += 1
    assert checked == len(READ_ONLY - GET_ONLY)

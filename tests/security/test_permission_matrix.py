"""Every URL pattern and API route, as each role, with real object ids of the clinician's clinic in the path:
the status must be the one in the table. A route missing from the table fails the test by name, so a new page
or endpoint cannot ship without someone deciding who may open it.

Roles: anonymous, clinician, lead and auditor of the clinic, outsider (a clinician of another clinic: must get
404 for the clinic's objects), administrator (superuser). The admin site is covered by one page per model.
"""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consultations.choices import ReviewFinding
from consultations.models import FallbackReview
from consultations.services import patient_copy_issue
from notifications.models import MessageKind, OutboundMessage, UnsubscribeToken, hash_unsubscribe_token
from outcomes.models import FollowUp, Timepoint
from outcomes.services import link_create, questionnaire_submit
from safety.choices import ExportFormat
from safety.models import ExportJob, Flag
from tests.consultations.factories import make_consultation
from tests.factories import make_injection, questionnaire_data
from tests.safety.ae_support import record as record_event
from tests.security.routes import all_routes, path_for

ROLES = ("anonymous", "clinician", "lead", "auditor", "outsider", "admin")
LONDON = zoneinfo.ZoneInfo("Europe/London")
# The injection is on 2 Mar 2026; on 31 Mar its one-month questionnaire is open (the link's page answers 200).
MATRIX_AT = dt.datetime(2026, 3, 31, 10, tzinfo=LONDON)

# GET status per role: (anonymous, clinician, lead, auditor, outsider, admin).
GET = {
    "registry:home": (302, 302, 302, 302, 302, 302),
    "registry:patient-list": (302, 200, 200, 200, 200, 200),
    "registry:patient-enrol": (302, 200, 200, 403, 200, 200),
    "registry:patient-detail": (302, 200, 200, 200, 404, 200),
    "registry:patient-edit": (302, 200, 200, 403, 404, 200),
    "registry:patient-withdraw": (302, 200, 200, 403, 404, 200),
    "registry:injection-new": (302, 200, 200, 403, 404, 200),
    "registry:injection-detail": (302, 200, 200, 200, 404, 200),
    "registry:injection-edit": (302, 200, 200, 403, 404, 200),
    "outcomes:questionnaire-thanks": (200, 200, 200, 200, 200, 200),
    # Without its signed view token (only the thanks page after a submission gives one): nothing there.
    "outcomes:questionnaire-own-scores": (404, 404, 404, 404, 404, 404),
    "outcomes:questionnaire": (200, 200, 200, 200, 200, 200),
    "outcomes:questionnaire-check": (405, 405, 405, 405, 405, 405),
    "outcomes:questionnaire-draft": (405, 405, 405, 405, 405, 405),
    "outcomes:questionnaire-opened": (405, 405, 405, 405, 405, 405),
    "outcomes:follow-up-tablet": (302, 405, 405, 405, 405, 405),
    "outcomes:follow-up-enter": (302, 200, 200, 403, 404, 200),
    "outcomes:submission-detail": (302, 200, 200, 200, 404, 200),
    "outcomes:submission-amend": (302, 200, 200, 403, 404, 200),
    "outcomes:dashboard": (302, 200, 200, 200, 200, 200),
    "outcomes:dashboard-csv": (302, 200, 200, 200, 200, 200),
    "outcomes:knee-replacement": (302, 200, 200, 200, 200, 200),
    "outcomes:knee-replacement-csv": (302, 200, 200, 200, 200, 200),
    # Reminder comparisons: the clinic's staff read; only the clinic's lead starts and stops one.
    "outcomes:reminder-comparisons": (302, 200, 200, 200, 200, 200),
    "outcomes:reminder-comparison-new": (302, 403, 200, 403, 403, 403),
    "outcomes:reminder-comparison": (302, 200, 200, 200, 404, 200),
    "outcomes:reminder-comparison-stop": (302, 405, 405, 405, 405, 405),
    "outcomes:reminder-comparison-csv": (302, 200, 200, 200, 404, 200),
    # A clinic's reminder settings: its staff read them (its lead changes them below); administrators use the admin.
    "outcomes:reminder-settings": (302, 200, 200, 200, 404, 200),
    "outcomes-api:reminder-comparison-list": (401, 200, 200, 200, 200, 200),
    "outcomes-api:reminder-comparison-detail": (401, 200, 200, 200, 404, 200),
    "outcomes-api:reminder-comparison-results": (401, 200, 200, 200, 404, 200),
    "outcomes:further-treatment-new": (302, 200, 200, 403, 404, 200),
    "outcomes:patient-trajectory": (302, 200, 200, 200, 404, 200),
    "safety:flag-list": (302, 200, 200, 200, 200, 200),
    "safety:flag-detail": (302, 200, 200, 200, 404, 200),
    "safety:flag-start-review": (302, 405, 405, 405, 405, 405),
    "safety:flag-dismiss": (302, 405, 405, 405, 405, 405),
    "notifications:dev-mailbox": (302, 403, 403, 403, 403, 200),  # live patient links: administrators only
    "notifications:chase-list": (302, 200, 200, 200, 200, 200),
    "notifications:call-attempt": (302, 405, 405, 405, 405, 405),
    "notifications:unsubscribe": (200, 200, 200, 200, 200, 200),
    "login": (200, 200, 200, 200, 200, 200),
    "two-factor-verify": (302, 200, 200, 200, 200, 200),
    "two-factor-setup": (302, 200, 200, 200, 200, 200),
    "two-factor-backup-codes": (302, 405, 405, 405, 405, 405),
    "api-token": (302, 200, 200, 200, 200, 200),
    "clinic-two-factor": (302, 403, 200, 403, 404, 200),
    "audit:trail": (302, 403, 200, 200, 403, 200),
    "audit:export": (302, 403, 200, 200, 403, 200),
    "logout": (405, 405, 405, 405, 405, 405),
    "registry-api:clinic-list": (401, 200, 200, 200, 200, 200),
    "registry-api:clinic-detail": (401, 200, 200, 200, 404, 200),
    "registry-api:patient-list": (401, 200, 200, 200, 200, 200),
    "registry-api:patient-detail": (401, 200, 200, 200, 404, 200),
    "registry-api:patient-withdraw-consent": (401, 405, 405, 405, 405, 405),
    "registry-api:injection-list": (401, 200, 200, 200, 200, 200),
    "registry-api:injection-detail": (401, 200, 200, 200, 404, 200),
    "outcomes-api:follow-up-list": (401, 200, 200, 200, 200, 200),
    "outcomes-api:follow-up-detail": (401, 200, 200, 200, 404, 200),
    "outcomes-api:instrument-list": (401, 200, 200, 200, 200, 200),
    "outcomes-api:instrument-score": (401, 405, 405, 405, 405, 405),
    "outcomes-api:outcomes-summary": (401, 200, 200, 200, 200, 200),
    "flag-list": (401, 200, 200, 200, 200, 200),
    "flag-detail": (401, 200, 200, 200, 404, 200),
    "notifications-api:message-list": (401, 200, 200, 200, 200, 200),
    "notifications-api:message-detail": (401, 200, 200, 200, 404, 200),
    "schema": (200, 200, 200, 200, 200, 200),
    "api-docs": (200, 200, 200, 200, 200, 200),
    # Adverse events, exports and the attention list (added while this table was written).
    "safety:event-list": (302, 200, 200, 200, 200, 200),
    "safety:event-new": (302, 404, 404, 404, 404, 404),  # needs ?patient=...; without one there is nothing to open
    "safety:event-detail": (302, 200, 200, 200, 404, 200),
    "safety:event-correct": (302, 200, 200, 403, 404, 200),
    "safety:event-report-new": (302, 200, 200, 403, 404, 200),
    "safety:event-cioms": (302, 200, 200, 200, 404, 200),
    "safety:flag-record-event": (302, 200, 200, 403, 404, 200),
    "safety:export-page": (302, 403, 200, 200, 403, 200),
    "safety:export-job": (302, 200, 404, 404, 404, 404),  # only the requester sees their job
    "safety:export-job-download": (302, 404, 404, 404, 404, 404),  # not built yet
    "notifications:attention": (302, 200, 200, 200, 200, 200),
    # Operations: the ops page for administrators; /metrics needs its token (none set here, not DEBUG: absent);
    # /health/ is public and says only "ok" or "unreachable".
    "notifications:ops": (302, 403, 403, 403, 403, 200),
    "notifications:ops-message-requeue": (302, 405, 405, 405, 405, 405),
    "notifications:metrics": (404, 404, 404, 404, 404, 404),
    "notifications:health": (200, 200, 200, 200, 200, 200),
    # Delivery receipts: providers POST them, with their own proof (no sign-in); a GET is refused by anyone.
    "notifications:notify-receipt": (405, 405, 405, 405, 405, 405),
    "notifications:twilio-status": (405, 405, 405, 405, 405, 405),
    "notifications:email-tracking": (405, 405, 405, 405, 405, 405),
    "adverse-event-list": (401, 200, 200, 200, 200, 200),
    "adverse-event-detail": (401, 200, 200, 200, 404, 200),
    "adverse-event-reports": (401, 200, 200, 200, 404, 200),
    # Consultations (issue 16).
    "consultations:consultation-list": (302, 200, 200, 200, 200, 200),
    "consultations:consultation-new": (302, 200, 200, 403, 404, 200),
    "consultations:consultation-detail": (302, 200, 200, 200, 404, 200),
    "consultations:consultation-edit": (302, 200, 200, 403, 404, 200),
    "consultations:patient-copy-issue": (302, 405, 405, 405, 405, 405),
    "consultations:patient-copy-revoke": (302, 405, 405, 405, 405, 405),
    "consultations:patient-copy-pdf": (302, 200, 200, 200, 404, 200),
    "consultations:decision-aid-text": (302, 200, 200, 403, 404, 200),
    # The patient's copy: no login, the token is the key (a working link here).
    "patient-copy:page": (200, 200, 200, 200, 200, 200),
    "patient-copy:pdf": (200, 200, 200, 200, 200, 200),
    "consultations-api:consultation-list": (401, 200, 200, 200, 200, 200),
    "consultations-api:consultation-detail": (401, 200, 200, 200, 404, 200),
    "consultations-api:consultation-expectation": (401, 200, 200, 200, 404, 200),
    # Fallback paths: counts over the reader's own clinics, as the outcomes dashboard (the outsider sees theirs).
    "consultations:fallback-paths": (302, 200, 200, 200, 200, 200),
    "consultations:fallback-paths-csv": (302, 200, 200, 200, 200, 200),  # protected, as the dashboard's CSVs
    # The consultation and review exports are asked for with a POST (they write the export log).
    "consultations:export-consultations": (302, 405, 405, 405, 405, 405),
    "consultations:export-reviews": (302, 405, 405, 405, 405, 405),
    "consultations:review-list": (302, 200, 200, 200, 200, 200),
    # The world's course is already reviewed: recording it again leads to the correction.
    "consultations:review-record": (302, 302, 302, 403, 404, 302),
    "consultations:review-edit": (302, 200, 200, 403, 404, 200),
    "consultations-api:review-list": (401, 200, 200, 200, 200, 200),
    "consultations-api:review-detail": (401, 200, 200, 200, 404, 200),
    "consultations-api:review-due": (401, 200, 200, 200, 200, 200),
}

# POST with an empty body, for routes that change something: who is refused before any validation.
POST = {
    "registry:home": (405, 405, 405, 405, 405, 405),
    "registry:patient-list": (302, 405, 405, 405, 405, 405),
    "registry:patient-enrol": (302, 200, 200, 403, 200, 200),
    "registry:patient-detail": (302, 405, 405, 405, 405, 405),
    "registry:patient-edit": (302, 200, 200, 403, 404, 200),
    "registry:patient-withdraw": (302, 200, 200, 403, 404, 200),
    "registry:injection-new": (302, 200, 200, 403, 404, 200),
    "registry:injection-detail": (302, 405, 405, 405, 405, 405),
    "registry:injection-edit": (302, 200, 200, 403, 404, 200),
    "outcomes:questionnaire-thanks": (405, 405, 405, 405, 405, 405),
    "outcomes:questionnaire-own-scores": (405, 405, 405, 405, 405, 405),
    "outcomes:questionnaire": (400, 400, 400, 400, 400, 400),
    "outcomes:questionnaire-check": (302, 302, 302, 302, 302, 302),
    "outcomes:questionnaire-draft": (200, 200, 200, 200, 200, 200),
    "outcomes:questionnaire-opened": (204, 204, 204, 204, 204, 204),
    "outcomes:follow-up-tablet": (302, 302, 302, 403, 404, 302),
    "outcomes:follow-up-enter": (302, 400, 400, 403, 404, 400),
    "outcomes:submission-detail": (302, 405, 405, 405, 405, 405),
    "outcomes:submission-amend": (302, 400, 400, 403, 404, 400),
    "outcomes:dashboard": (302, 405, 405, 405, 405, 405),
    "outcomes:dashboard-csv": (302, 405, 405, 405, 405, 405),
    "outcomes:knee-replacement": (302, 405, 405, 405, 405, 405),
    "outcomes:knee-replacement-csv": (302, 405, 405, 405, 405, 405),
    "outcomes:reminder-comparisons": (302, 405, 405, 405, 405, 405),
    "outcomes:reminder-comparison-new": (302, 403, 400, 403, 403, 403),  # the lead, nothing typed: 400
    "outcomes:reminder-comparison": (302, 405, 405, 405, 405, 405),
    "outcomes:reminder-comparison-stop": (302, 403, 400, 403, 404, 403),  # no reason given: nothing changes
    "outcomes:reminder-comparison-csv": (302, 405, 405, 405, 405, 405),
    "outcomes:reminder-settings": (302, 403, 400, 403, 404, 403),  # the lead, nothing typed: 400
    "outcomes-api:reminder-comparison-list": (401, 405, 405, 403, 405, 405),
    "outcomes-api:reminder-comparison-detail": (401, 405, 405, 403, 405, 405),
    "outcomes-api:reminder-comparison-results": (401, 405, 405, 403, 405, 405),
    "outcomes:further-treatment-new": (302, 400, 400, 403, 404, 400),
    "outcomes:patient-trajectory": (302, 405, 405, 405, 405, 405),
    "safety:flag-list": (302, 405, 405, 405, 405, 405),
    "safety:flag-detail": (302, 405, 405, 405, 405, 405),
    "safety:flag-start-review": (302, 302, 302, 403, 404, 302),
    "safety:flag-dismiss": (302, 400, 400, 403, 404, 400),
    "notifications:dev-mailbox": (302, 405, 405, 405, 405, 405),
    "notifications:chase-list": (302, 405, 405, 405, 405, 405),
    "notifications:call-attempt": (302, 302, 302, 403, 404, 302),
    "notifications:unsubscribe": (200, 200, 200, 200, 200, 200),
    "login": (200, 200, 200, 200, 200, 200),
    "two-factor-verify": (302, 200, 200, 200, 200, 200),
    "two-factor-setup": (302, 200, 200, 200, 200, 200),
    "two-factor-backup-codes": (302, 403, 403, 403, 403, 403),
    "api-token": (302, 200, 200, 200, 200, 200),
    "clinic-two-factor": (302, 403, 302, 403, 404, 302),
    "audit:trail": (302, 405, 405, 405, 405, 405),
    "audit:export": (302, 405, 405, 405, 405, 405),
    "logout": (302, 302, 302, 302, 302, 302),
    "registry-api:clinic-list": (401, 403, 403, 403, 403, 400),
    "registry-api:clinic-detail": (401, 403, 403, 403, 403, 405),
    "registry-api:patient-list": (401, 400, 400, 403, 400, 400),
    "registry-api:patient-detail": (401, 405, 405, 403, 405, 405),
    "registry-api:patient-withdraw-consent": (401, 400, 400, 403, 404, 400),
    "registry-api:injection-list": (401, 400, 400, 403, 400, 400),
    "registry-api:injection-detail": (401, 405, 405, 403, 405, 405),
    "outcomes-api:follow-up-list": (401, 405, 405, 403, 405, 405),
    "outcomes-api:follow-up-detail": (401, 405, 405, 403, 405, 405),
    "outcomes-api:instrument-list": (401, 405, 405, 405, 405, 405),
    "outcomes-api:instrument-score": (401, 400, 400, 400, 400, 400),
    "outcomes-api:outcomes-summary": (401, 405, 405, 403, 405, 405),
    "flag-list": (401, 405, 405, 403, 405, 405),
    "flag-detail": (401, 405, 405, 403, 405, 405),
    "notifications-api:message-list": (401, 405, 405, 403, 405, 405),
    "notifications-api:message-detail": (401, 405, 405, 403, 405, 405),
    "schema": (405, 405, 405, 405, 405, 405),
    "api-docs": (405, 405, 405, 405, 405, 405),
    "safety:event-list": (302, 405, 405, 405, 405, 405),
    "safety:event-new": (302, 404, 404, 404, 404, 404),
    "safety:event-detail": (302, 405, 405, 405, 405, 405),
    "safety:event-correct": (302, 400, 400, 403, 404, 400),
    "safety:event-report-new": (302, 400, 400, 403, 404, 400),
    "safety:event-cioms": (302, 405, 405, 405, 405, 405),
    "safety:flag-record-event": (302, 400, 400, 403, 404, 400),
    "safety:export-page": (302, 403, 400, 400, 403, 400),
    "safety:export-job": (302, 405, 405, 405, 405, 405),
    "safety:export-job-download": (302, 405, 405, 405, 405, 405),
    "notifications:attention": (302, 405, 405, 405, 405, 405),
    "notifications:ops": (302, 405, 405, 405, 405, 405),
    "notifications:ops-message-requeue": (302, 403, 403, 403, 403, 400),  # no reason given: nothing changes
    "notifications:metrics": (405, 405, 405, 405, 405, 405),
    "notifications:health": (405, 405, 405, 405, 405, 405),
    # A signed-in session is no proof for a provider's receipt: no bearer token, no signature, no email service.
    "notifications:notify-receipt": (401, 401, 401, 401, 401, 401),
    "notifications:twilio-status": (403, 403, 403, 403, 403, 403),
    "notifications:email-tracking": (404, 404, 404, 404, 404, 404),
    "adverse-event-list": (401, 400, 400, 403, 400, 400),
    "adverse-event-detail": (401, 405, 405, 403, 405, 405),
    "adverse-event-reports": (401, 400, 400, 403, 404, 400),  # an empty report: 400; auditors may not add one
    "consultations:consultation-list": (302, 405, 405, 405, 405, 405),
    "consultations:consultation-new": (302, 200, 200, 403, 404, 200),  # nothing typed: the form again, with errors
    "consultations:consultation-detail": (302, 405, 405, 405, 405, 405),
    "consultations:consultation-edit": (302, 200, 200, 403, 404, 200),
    "consultations:patient-copy-issue": (302, 200, 200, 403, 404, 200),  # the link, shown once
    "consultations:patient-copy-revoke": (302, 302, 302, 403, 404, 302),
    "consultations:patient-copy-pdf": (302, 405, 405, 405, 405, 405),
    "consultations:decision-aid-text": (302, 302, 302, 403, 404, 302),  # both fields may be empty: saved
    "patient-copy:page": (405, 405, 405, 405, 405, 405),
    "patient-copy:pdf": (405, 405, 405, 405, 405, 405),
    "consultations-api:consultation-list": (401, 400, 400, 403, 400, 400),
    "consultations-api:consultation-detail": (401, 405, 405, 403, 405, 405),
    "consultations-api:consultation-expectation": (401, 405, 405, 403, 405, 405),
    "consultations:fallback-paths": (302, 405, 405, 405, 405, 405),
    "consultations:fallback-paths-csv": (302, 405, 405, 405, 405, 405),
    # Exports are for auditors and leads (as the adverse-event export); an empty body is all their clinics.
    "consultations:export-consultations": (302, 403, 200, 200, 403, 200),
    "consultations:export-reviews": (302, 403, 200, 200, 403, 200),
    "consultations:review-list": (302, 405, 405, 405, 405, 405),
    "consultations:review-record": (302, 302, 302, 403, 404, 302),
    "consultations:review-edit": (302, 200, 200, 403, 404, 200),  # nothing typed: the form again, with errors
    "consultations-api:review-list": (401, 400, 400, 403, 400, 400),
    "consultations-api:review-detail": (401, 405, 405, 403, 405, 405),
    "consultations-api:review-due": (401, 405, 405, 403, 405, 405),
}


@pytest.fixture
def world(clinic, clinician, lead, auditor, outsider, admin_user, patient):
    with time_machine.travel(dt.datetime(2026, 2, 23, 10, tzinfo=LONDON), tick=False):
        injection = make_injection(patient, clinician, injected_on=dt.date(2026, 3, 2))
    baseline = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.BASELINE)
    with time_machine.travel(dt.datetime(2026, 2, 25, 10, tzinfo=LONDON), tick=False):
        submission = questionnaire_submit(follow_up=baseline, data=questionnaire_data(baseline))
    follow_up = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.ONE_MONTH)
    flag = Flag.objects.create(
        clinic=clinic, patient=patient, follow_up=baseline, submission=submission, rule="safety_swelling"
    )
    message = OutboundMessage.objects.create(
        kind=MessageKind.INVITATION,
        clinic=clinic,
        patient=patient,
        follow_up=follow_up,
        dedupe_key="matrix",
        scheduled_for=timezone.now(),
    )
    with time_machine.travel(dt.datetime(2026, 3, 21, 10, tzinfo=LONDON), tick=False):
        event = record_event(clinician, injection)
    export_job = ExportJob.objects.create(requested_by=clinician, format=ExportFormat.values[0])
    with time_machine.travel(dt.datetime(2026, 2, 20, 10, tzinfo=LONDON), tick=False):
        consultation = make_consultation(patient, clinician)
    with time_machine.travel(MATRIX_AT, tick=False):
        copy_token = patient_copy_issue(consultation=consultation, by=clinician).token  # working on MATRIX_AT
    # A review of the course, written directly (the service would wait for its review point, in September).
    review = FallbackReview.objects.create(
        plan=injection.plan,
        reviewed_on=dt.date(2026, 3, 30),
        clinician=clinician,
        finding=ReviewFinding.NO_FOLLOW_UP,
        offered=["physiotherapy"],
        path_taken="physiotherapy",
        created_by=clinician,
    )
    from outcomes.reminders import comparison_start

    comparison = comparison_start(
        clinic=clinic,
        by=lead,
        question="Does a text on day 7 help?",
        starts_on=timezone.localdate(),
        arm_a={"name": "Text on day 7", "text_reminder_days": [7]},
        arm_b={"name": "No text", "text_reminders": False},
    )
    unsubscribe = "u" * 43
    UnsubscribeToken.objects.create(patient=patient, token_hash=hash_unsubscribe_token(unsubscribe))
    from outcomes.analysis import tables

    objects = {
        "registry_number": patient.registry_number,
        "injection": injection.pk,
        "follow-up": follow_up.pk,
        "follow_up_id": follow_up.pk,
        "submission": submission.pk,
        "flag": flag.pk,
        "clinic": clinic.pk,
        "patient": patient.pk,
        "message": message.pk,
        "event": event.pk,
        "export-job": export_job.pk,
        "consultation": consultation.pk,
        "reminder-comparison": comparison.pk,
        "clinic_id": clinic.pk,
        "review-detail": review.pk,
        "plan_id": injection.plan_id,
        "q-token": link_create(follow_up=follow_up),
        "copy-token": copy_token,
        "unsubscribe-token": unsubscribe,
        "table": sorted(tables.BUILDERS)[0],
        "code": "KOOS",
    }
    users = {
        "anonymous": None,
        "clinician": clinician,
        "lead": lead,
        "auditor": auditor,
        "outsider": outsider,
        "admin": admin_user,
    }
    return objects, users


def app_routes():
    return [r for r in all_routes() if not r.is_admin]


def statuses(method, route, objects, users) -> tuple[int, ...]:
    result = []
    for role in ROLES:
        client = Client(raise_request_exception=False)
        if users[role] is not None:
            client.force_login(users[role])
        url = path_for(route, objects)
        if method == "GET":
            response = client.get(url)
        elif url.startswith("/api/"):  # the API parses JSON bodies only (a form body is a 415)
            response = client.post(url, {}, content_type="application/json")
        else:
            response = client.post(url, {})
        result.append(response.status_code)
    return tuple(result)


def _check(method: str, table: dict, world) -> None:
    objects, users = world
    missing = [f"{r.name} ({r.route})" for r in app_routes() if r.name not in table]
    if missing:
        pytest.fail(f"routes with no entry in the {method} permission table: " + ", ".join(missing))
    wrong = []
    with time_machine.travel(MATRIX_AT, tick=True):
        for route in app_routes():
            got = statuses(method, route, objects, users)
            if got != table[route.name]:
                cells = ", ".join(
                    f"{role} {want}->{have}"
                    for role, want, have in zip(ROLES, table[route.name], got, strict=True)
                    if want != have
                )
                wrong.append(f"{method} {route.name}: {cells}")
    assert not wrong, "\n".join(wrong)


def test_every_route_answers_get_as_the_table_says(world):
    _check("GET", GET, world)


def test_every_route_answers_post_as_the_table_says(world):
    _check("POST", POST, world)


def test_every_route_has_an_entry_and_no_entry_is_stale():
    names = {r.name for r in app_routes()}
    for table_name, table in (("GET", GET), ("POST", POST)):
        missing = sorted(names - set(table))
        assert not missing, f"add these routes to the {table_name} table in {__name__}: {missing}"
        stale = sorted(set(table) - names)
        assert not stale, f"{table_name} table names routes that no longer exist: {stale}"


def test_outsiders_get_404_for_every_object_of_another_clinic():
    """The table's promise, stated once: wherever a route names one of the clinic's objects, the outsider
    (a clinician of another clinic) is told it does not exist, on GET and on POST."""
    for route in app_routes():
        if not route.params or route.name.startswith(
            ("outcomes:questionnaire", "notifications:unsubscribe", "patient-copy:")
        ):
            continue
        if route.name in ("outcomes-api:instrument-score", "outcomes:dashboard-csv"):
            continue  # parameters that are not the clinic's objects
        for method, table in (("GET", GET), ("POST", POST)):
            codes = table[route.name]
            outsider = codes[ROLES.index("outsider")]
            # 404, or a refusal that does not depend on the object (the clinic's own clinician gets the same).
            ok = outsider in (404, 405) or outsider == codes[ROLES.index("clinician")] == codes[ROLES.index("lead")]
            assert ok, f"{method} {route.name}: outsider gets {outsider}"


def test_auditors_never_change_anything():
    allowed = {"outcomes-api:instrument-score"}  # a calculator: nothing is stored
    for name, codes in POST.items():
        auditor = codes[ROLES.index("auditor")]
        if name.startswith(
            ("outcomes:questionnaire", "notifications:unsubscribe", "patient-copy:", "two-factor", "api-token")
        ):
            continue  # the patient's own link, or the auditor's own sign-in and token
        if name in allowed or name in ("login", "logout"):
            continue
        if codes[ROLES.index("clinician")] in (302, 400, 201) and name not in ("registry:home",):
            assert auditor == 403, f"POST {name}: auditor gets {auditor}"


ADMIN_ROLES_REFUSED = ("clinician", "lead", "auditor", "outsider")


def test_the_admin_site_one_page_per_model(world):
    """Only staff reach the admin; the personas of the clinic are not staff, so every model's list redirects
    them to the admin's sign-in; the administrator sees each list."""
    _, users = world
    with time_machine.travel(MATRIX_AT, tick=True):
        for model in admin.site._registry:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            assert Client().get(url).status_code == 302, url
            for role in ADMIN_ROLES_REFUSED:
                client = Client()
                client.force_login(users[role])
                assert client.get(url).status_code == 302, (role, url)
            client = Client()
            client.force_login(users["admin"])
            assert client.get(url).status_code == 200, url

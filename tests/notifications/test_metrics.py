"""/metrics after a drain with failures: every figure, parsed with prometheus_client's own text parser, equals
what the database says (counted here independently, row by row in Python), and who may read it."""

import datetime as dt
import smtplib

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications import tasks
from notifications.metrics import FAILURE_REASONS, OTHER_REASON, reason_of
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    TaskHeartbeat,
)
from notifications.services.sending import classify
from outcomes.models import Submission, Timepoint
from safety.models import AdverseEvent, Flag
from tests.factories import PatientFactory, make_injection
from tests.safety.ae_support import record as record_event
from tests.support.answers import complete

pytestmark = pytest.mark.django_db

TOKEN = "m" * 40


class PickyMailServer(EmailBackend):
    """Refuses addresses with "refuse" for good (550), says "try later" (421) to those with "later", and takes
    the rest."""

    def send_messages(self, messages):
        for message in messages:
            (to,) = message.to
            if "refuse" in to:
                raise smtplib.SMTPRecipientsRefused({to: (550, b"5.1.1 no such user")})
            if "later" in to:
                raise smtplib.SMTPResponseException(421, b"4.3.2 try again later")
        return super().send_messages(messages)


def scrape(client, **headers) -> dict:
    """{(sample name, labels as a sorted tuple): value} from the endpoint's text."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def drained(clock, settings, clinic, clinician):
    """Seven invitations drained through the send task: three delivered, two refused for good, two retrying;
    then a submission with a flag, an adverse event, one message due and unsent, and one stuck claim."""
    settings.EMAIL_BACKEND = "tests.notifications.test_metrics.PickyMailServer"
    settings.METRICS_TOKEN = TOKEN
    emails = ["ok1@example.org", "ok2@example.org", "ok3@example.org", "refuse1@example.org"]
    emails += ["refuse2@example.org", "later1@example.org", "later2@example.org"]
    injections = [
        make_injection(PatientFactory(clinic=clinic, email=email), clinician, injected_on=dt.date(2026, 3, 20))
        for email in emails
    ]
    ids = list(OutboundMessage.objects.filter(kind=MessageKind.INVITATION).values_list("id", flat=True))
    assert len(ids) == 7
    tasks.send_batch.apply(args=(ids, None))  # the worker's task, with its signals: a heartbeat row
    tasks.followups_sweep.apply()  # nothing left due (the retries are in the future): claims nothing

    baseline = injections[0].plan.follow_ups.get(timepoint=Timepoint.BASELINE)
    submission = complete(baseline)
    Flag.objects.create(
        clinic=clinic,
        patient=baseline.patient,
        follow_up=baseline,
        submission=submission,
        rule="safety_swelling",
        urgent=True,
    )
    given = make_injection(
        PatientFactory(clinic=clinic, email="ae@example.org"), clinician, injected_on=dt.date(2026, 2, 2)
    )
    record_event(clinician, given, onset_on=dt.date(2026, 2, 10), outcome_on=dt.date(2026, 2, 20))
    # One message due five minutes ago and not yet claimed; one claimed 40 minutes ago by a worker that died.
    now = timezone.now()
    OutboundMessage.objects.create(
        kind=MessageKind.URGENT_FLAG, clinic=clinic, dedupe_key="due", scheduled_for=now - dt.timedelta(minutes=5)
    )
    OutboundMessage.objects.create(
        kind=MessageKind.MISSED_DIGEST,
        clinic=clinic,
        dedupe_key="stuck",
        scheduled_for=now - dt.timedelta(hours=1),
        status=MessageStatus.SENDING,
        claimed_by="task:dead",
        claimed_at=now - dt.timedelta(minutes=40),
        lease_expires_at=now - dt.timedelta(minutes=38),
    )
    return now


def test_every_figure_after_a_drain_with_failures_equals_the_database(drained, client):
    now = drained
    samples = scrape(client)

    # What the drain did, stated outright: 3 sent, 2 refused for good, 2 waiting to retry.
    assert value(samples, "registry_outbox_messages", state="sent", kind="invitation") == 3
    assert value(samples, "registry_outbox_messages", state="failed", kind="invitation") == 2
    # Pending: the two retrying, and the next invitation of the patient with the adverse event (not drained).
    assert value(samples, "registry_outbox_messages", state="pending", kind="invitation") == 3
    assert value(samples, "registry_email_attempts_total", outcome="permanent", reason="recipient_refused") == 2
    assert value(samples, "registry_email_attempts_total", outcome="transient", reason="server_reply") == 2

    # Outbox depth: every state and kind, zero or not, equals the rows.
    for state in MessageStatus.values:
        for kind in MessageKind.values:
            rows = OutboundMessage.objects.filter(status=state, kind=kind).count()
            assert value(samples, "registry_outbox_messages", state=state, kind=kind) == rows, (state, kind)

    # Ages and stuck rows, from the rows themselves.
    pending_due = [
        m.scheduled_for for m in OutboundMessage.objects.all() if m.status == "pending" and m.scheduled_for <= now
    ]
    assert value(samples, "registry_outbox_oldest_due_age_seconds") == (now - min(pending_due)).total_seconds() == 300
    sending = [m.claimed_at for m in OutboundMessage.objects.filter(status="sending")]
    assert value(samples, "registry_outbox_oldest_sending_age_seconds") == (now - min(sending)).total_seconds() == 2400
    assert value(samples, "registry_outbox_stuck_messages") == 1
    retrying = [m for m in OutboundMessage.objects.all() if m.status == "pending" and m.attempts > 0]
    assert value(samples, "registry_outbox_retrying_messages") == len(retrying) == 2

    # Attempts by outcome and reason; failed rows by reason (classified here in Python, there in SQL).
    attempts = {}
    for attempt in DeliveryAttempt.objects.all():
        reason = "none" if attempt.outcome == AttemptOutcome.SENT else reason_of(attempt.error)
        attempts[(attempt.outcome, reason)] = attempts.get((attempt.outcome, reason), 0) + 1
    exposed = {
        (dict(labels)["outcome"], dict(labels)["reason"]): v
        for (name, labels), v in samples.items()
        if name == "registry_email_attempts_total" and v
    }
    assert (
        exposed
        == attempts
        == {("sent", "none"): 3, ("permanent", "recipient_refused"): 2, ("transient", "server_reply"): 2}
    )
    failed = {}
    for message in OutboundMessage.objects.filter(status="failed"):
        failed[reason_of(message.last_error)] = failed.get(reason_of(message.last_error), 0) + 1
    for reason, _ in (*FAILURE_REASONS, (OTHER_REASON, "")):
        assert value(samples, "registry_outbox_failed_messages", reason=reason) == failed.get(reason, 0), reason

    # Safety and submissions.
    assert value(samples, "registry_safety_flags_raised_total", rule="safety_swelling", severity="urgent") == 1
    assert Flag.objects.count() == 1
    assert (
        value(samples, "registry_adverse_events_recorded_total", seriousness="non_serious")
        + value(samples, "registry_adverse_events_recorded_total", seriousness="serious")
        == AdverseEvent.objects.count()
        == 1
    )
    total = Submission.objects.filter(source="patient_link").count()
    assert value(samples, "registry_questionnaire_submissions_total", source="patient_link") == total == 1
    recent = Submission.objects.filter(submitted_at__gt=now - dt.timedelta(minutes=1)).count()
    assert value(samples, "registry_questionnaire_submissions_last_minute", source="patient_link") == recent == 1

    # Task heartbeats, from their rows.
    for beat in TaskHeartbeat.objects.all():
        assert value(samples, "registry_task_runs_total", task=beat.task) == beat.runs == 1
        assert value(samples, "registry_task_failures_total", task=beat.task) == beat.failures == 0
        assert value(samples, "registry_task_last_duration_seconds", task=beat.task) == beat.last_duration_seconds
    assert {beat.task for beat in TaskHeartbeat.objects.all()} == {
        "notifications.send_batch",
        "notifications.followups_sweep",
    }
    sweep = TaskHeartbeat.objects.get(task="notifications.followups_sweep")
    assert value(samples, "registry_sweep_duration_seconds") == sweep.last_duration_seconds
    assert value(samples, "registry_sweep_last_success_age_seconds") == (now - sweep.last_succeeded_at).total_seconds()


def test_no_label_carries_patient_data(drained, client):
    samples = scrape(client)
    labels = {v for (_, pairs) in samples for (_, v) in pairs}
    for message in OutboundMessage.objects.select_related("patient"):
        if message.patient:
            assert message.patient.email not in labels
            assert message.patient.registry_number not in labels
        assert not any(message.last_error and message.last_error in label for label in labels)
    assert all(len(label) <= 40 for label in labels)


def test_a_scrape_costs_a_fixed_number_of_queries(drained, client, django_assert_max_num_queries):
    # Outbox by state and kind, its ages, failed rows, attempts, flags, adverse events, submissions, heartbeats.
    with django_assert_max_num_queries(8):
        scrape(client)


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no")}),
        ValueError("bad address"),
        smtplib.SMTPServerDisconnected("gone"),
        smtplib.SMTPResponseException(451, b"later"),
        smtplib.SMTPAuthenticationError(535, b"bad credentials"),
        RuntimeError("bug"),
    ],
)
def test_every_error_the_sender_words_has_a_reason_of_its_own(error):
    assert reason_of(classify(error).message) != OTHER_REASON
    assert reason_of("Gave up after 8 attempts: " + classify(error).message) == "gave_up_after_retries"


# --- who may read it ----------------------------------------------------------------------------------------


def test_with_a_token_only_its_bearer_reads_the_metrics(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'x' * 40}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.parametrize("persona", ["clinician", "auditor", "admin_user"])
def test_a_signed_in_user_is_no_substitute_for_the_token(client, settings, persona, request):
    settings.METRICS_TOKEN = TOKEN
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/metrics").status_code == 401


def test_without_a_token_metrics_are_open_in_the_demo_and_absent_in_production(client, settings, db):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 404

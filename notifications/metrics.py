"""The figures /metrics exposes, read from the database at scrape time.

Every figure is a query (grouped and aggregated in the database), not an in-process counter: web, worker and
beat are separate processes, gunicorn runs several, and a counter kept in one of them would be a fraction of the
truth that resets on restart. A scrape costs a fixed number of queries, whatever the size of the outbox.

Labels take values from fixed sets only (message states and kinds, failure reasons below, flag rules, task
names): never an address, a name or an error's text, so no patient data leaves in a label and the number of
series stays bounded.
"""

import datetime as dt

from django.db.models import Case, CharField, Count, Min, Q, Value, When
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from notifications.heartbeat import SWEEP_TASK
from notifications.models import (
    AttemptOutcome,
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    TaskHeartbeat,
)
from outcomes.models import Submission
from outcomes.models.questionnaire import SubmissionSource
from safety.models import AdverseEvent, Flag

# Failure reasons, by how sending.classify() words a TransportError (first match wins; "other" otherwise).
# tests/notifications/test_metrics.py checks that every kind of error classify() knows lands on its own reason.
FAILURE_REASONS: tuple[tuple[str, str], ...] = (
    ("gave_up_after_retries", "Gave up after "),
    ("recipient_refused", "Recipient refused"),
    ("invalid_address", "Invalid address"),
    ("server_unreachable", "Mail server unreachable"),
    ("server_reply", "Mail server replied"),
    ("server_configuration", "Mail server:"),
    ("unexpected_error", "Unexpected error"),
)
OTHER_REASON = "other"
NO_ERROR = "none"
REASONS = (*(reason for reason, _ in FAILURE_REASONS), OTHER_REASON)


def reason_of(error_text: str) -> str:
    """The reason label of one error text (the Python twin of _reason_case, for the ops page and tests)."""
    for reason, prefix in FAILURE_REASONS:
        if error_text.startswith(prefix):
            return reason
    return OTHER_REASON


def _reason_case(field: str) -> Case:
    return Case(
        *(When(**{f"{field}__startswith": prefix}, then=Value(reason)) for reason, prefix in FAILURE_REASONS),
        default=Value(OTHER_REASON),
        output_field=CharField(),
    )


def stuck(now: dt.datetime) -> Q:
    """Rows still "sending" whose claim's lease ran out: their worker died or lost the task, and the next sweep
    takes them back. A "sending" row without a lease is shown too: nothing would ever take it back."""
    sending = Q(status=MessageStatus.SENDING)
    return sending & (Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True))


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since else 0.0


def _timestamp(value: dt.datetime | None) -> float:
    return value.timestamp() if value else 0.0


class RegistryCollector(Collector):
    def __init__(self, now: dt.datetime | None = None):
        self.now = now

    def collect(self):
        now = self.now or timezone.now()
        yield from self._outbox(now)
        yield from self._attempts()
        yield from self._safety()
        yield from self._submissions(now)
        yield from self._tasks(now)

    def _outbox(self, now):
        depth = GaugeMetricFamily(
            "registry_outbox_messages", "Outbox rows by state and kind.", labels=["state", "kind"]
        )
        counts = {
            (row["status"], row["kind"]): row["n"]
            for row in OutboundMessage.objects.order_by().values("status", "kind").annotate(n=Count("id"))
        }
        for state in MessageStatus.values:
            for kind in MessageKind.values:
                depth.add_metric([state, kind], counts.get((state, kind), 0))
        yield depth

        ages = OutboundMessage.objects.aggregate(
            oldest_due=Min("scheduled_for", filter=Q(status=MessageStatus.PENDING, scheduled_for__lte=now)),
            oldest_sending=Min("claimed_at", filter=Q(status=MessageStatus.SENDING)),
            stuck=Count("id", filter=stuck(now)),
            retrying=Count("id", filter=Q(status=MessageStatus.PENDING, attempts__gt=0)),
        )
        yield GaugeMetricFamily(
            "registry_outbox_oldest_due_age_seconds",
            "Age of the oldest pending message whose time has come (0: none waiting).",
            value=_age(now, ages["oldest_due"]),
        )
        yield GaugeMetricFamily(
            "registry_outbox_oldest_sending_age_seconds",
            "Age of the oldest claim still being sent (0: none).",
            value=_age(now, ages["oldest_sending"]),
        )
        yield GaugeMetricFamily(
            "registry_outbox_stuck_messages",
            "Messages still being sent after their claim ran out (a worker died or lost its task).",
            value=ages["stuck"],
        )
        yield GaugeMetricFamily(
            "registry_outbox_retrying_messages",
            "Pending messages that failed at least once with a temporary error.",
            value=ages["retrying"],
        )

        failed = GaugeMetricFamily(
            "registry_outbox_failed_messages", "Messages that failed for good, by reason.", labels=["reason"]
        )
        by_reason = dict(
            OutboundMessage.objects.filter(status=MessageStatus.FAILED)
            .order_by()
            .annotate(reason=_reason_case("last_error"))
            .values_list("reason")
            .annotate(n=Count("id"))
        )
        for reason in REASONS:
            failed.add_metric([reason], by_reason.get(reason, 0))
        yield failed

    def _attempts(self):
        attempts = CounterMetricFamily(
            "registry_email_attempts",
            "Hand-overs to the mail server, by outcome (sent, transient, permanent) and failure reason.",
            labels=["outcome", "reason"],
        )
        counts = {
            (row["outcome"], row["reason"]): row["n"]
            for row in DeliveryAttempt.objects.order_by()
            .annotate(
                reason=Case(When(outcome=AttemptOutcome.SENT, then=Value(NO_ERROR)), default=_reason_case("error"))
            )
            .values("outcome", "reason")
            .annotate(n=Count("id"))
        }
        attempts.add_metric([AttemptOutcome.SENT, NO_ERROR], counts.get((AttemptOutcome.SENT, NO_ERROR), 0))
        for outcome in (AttemptOutcome.TRANSIENT, AttemptOutcome.PERMANENT):
            for reason in REASONS:
                attempts.add_metric([outcome, reason], counts.get((outcome, reason), 0))
        yield attempts

    def _safety(self):
        flags = CounterMetricFamily(
            "registry_safety_flags_raised", "Safety flags raised, by rule and severity.", labels=["rule", "severity"]
        )
        for row in Flag.objects.order_by().values("rule", "urgent").annotate(n=Count("id")).order_by("rule", "urgent"):
            flags.add_metric([row["rule"], "urgent" if row["urgent"] else "routine"], row["n"])
        yield flags
        events = CounterMetricFamily(
            "registry_adverse_events_recorded", "Adverse events recorded, serious or not.", labels=["seriousness"]
        )
        serious = AdverseEvent.objects.aggregate(
            serious=Count("id", filter=Q(is_serious=True)), non_serious=Count("id", filter=Q(is_serious=False))
        )
        events.add_metric(["serious"], serious["serious"])
        events.add_metric(["non_serious"], serious["non_serious"])
        yield events

    def _submissions(self, now):
        total = CounterMetricFamily(
            "registry_questionnaire_submissions", "Questionnaires submitted, by source.", labels=["source"]
        )
        recent = GaugeMetricFamily(
            "registry_questionnaire_submissions_last_minute",
            "Questionnaires submitted in the minute before the scrape, by source.",
            labels=["source"],
        )
        rows = {
            row["source"]: row
            for row in Submission.objects.order_by()
            .values("source")
            .annotate(n=Count("id"), recent=Count("id", filter=Q(submitted_at__gt=now - dt.timedelta(minutes=1))))
        }
        for source in SubmissionSource.values:
            total.add_metric([source], rows.get(source, {}).get("n", 0))
            recent.add_metric([source], rows.get(source, {}).get("recent", 0))
        yield total
        yield recent

    def _tasks(self, now):
        runs = CounterMetricFamily("registry_task_runs", "Celery task runs, by task.", labels=["task"])
        failures = CounterMetricFamily(
            "registry_task_failures", "Celery task runs that failed or were retried, by task.", labels=["task"]
        )
        duration = GaugeMetricFamily(
            "registry_task_last_duration_seconds", "How long each task's last run took.", labels=["task"]
        )
        succeeded = GaugeMetricFamily(
            "registry_task_last_success_timestamp_seconds",
            "When each task last finished without error (Unix time; 0: never).",
            labels=["task"],
        )
        sweep = None
        for beat in TaskHeartbeat.objects.order_by("task"):
            runs.add_metric([beat.task], beat.runs)
            failures.add_metric([beat.task], beat.failures)
            duration.add_metric([beat.task], beat.last_duration_seconds)
            succeeded.add_metric([beat.task], _timestamp(beat.last_succeeded_at))
            if beat.task == SWEEP_TASK:
                sweep = beat
        yield from (runs, failures, duration, succeeded)
        yield GaugeMetricFamily(
            "registry_sweep_duration_seconds",
            "How long the last follow-up sweep took.",
            value=sweep.last_duration_seconds if sweep else 0.0,
        )
        yield GaugeMetricFamily(
            "registry_sweep_last_success_age_seconds",
            "Seconds since the follow-up sweep last finished without error (-1: never).",
            value=_age(now, sweep.last_succeeded_at) if sweep and sweep.last_succeeded_at else -1.0,
        )


def metrics_text(now: dt.datetime | None = None) -> bytes:
    """The Prometheus text exposition of every figure, read now (a registry of its own: no global state)."""
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegistryCollector(now))
    return generate_latest(registry)

"""The outbox: every email is first a row here, written in the same transaction as the change that causes it.

A minute-by-minute sweep claims due rows and hands them to workers in batches. The unique `dedupe_key` is what
makes a retry, a second beat tick, a crashed worker or a redelivered task unable to send the same thing twice.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class MessageKind(models.TextChoices):
    INVITATION = "invitation", "Invitation"
    REMINDER_1 = "reminder_1", "First reminder"
    REMINDER_2 = "reminder_2", "Second reminder"
    FINAL_REMINDER = "final_reminder", "Final reminder"
    MISSED_DIGEST = "missed_digest", "Daily clinic digest"
    URGENT_FLAG = "urgent_flag", "Urgent safety report"
    LINK_LOCKED = "link_locked", "Questionnaire link locked"
    SAFETY_ADVICE = "safety_advice", "Advice: contact the clinic today"
    SERIOUS_EVENT = "serious_event", "Serious adverse event"


# Emails to the patient about one follow-up (they carry a questionnaire link and an unsubscribe link).
PATIENT_KINDS = (
    MessageKind.INVITATION,
    MessageKind.REMINDER_1,
    MessageKind.REMINDER_2,
    MessageKind.FINAL_REMINDER,
)
REMINDER_KINDS = (MessageKind.REMINDER_1, MessageKind.REMINDER_2, MessageKind.FINAL_REMINDER)
# Safety notices to one clinician or lead, sent at once whatever the hour (the recipient is re-checked at send time).
URGENT_STAFF_KINDS = (MessageKind.URGENT_FLAG, MessageKind.SERIOUS_EVENT)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Rejected"
    CANCELLED = "cancelled", "Not sent"


class DeliveryState(models.TextChoices):
    """What the provider later told us about a message it took (delivery receipts, notifications/receipts.py)."""

    QUEUED = "queued", "Queued at the provider"
    SENT = "sent", "Sent by the provider"
    DEFERRED = "deferred", "Delayed (the provider is retrying)"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    FAILED_TEMPORARY = "failed_temporary", "Not delivered"
    FAILED_PERMANENT = "failed_permanent", "Bounced"
    COMPLAINED = "complained", "Reported as spam"


# States that say the message did not reach the patient (or should not have been sent): the chase list puts
# their patients first.
UNDELIVERED_STATES = (DeliveryState.FAILED_TEMPORARY, DeliveryState.FAILED_PERMANENT)


class OutboundMessage(models.Model):
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    # How it reaches the patient. A follow-up's texts are rows of their own (their dedupe key ends in ":sms"), so
    # an email and a text of one kind are each sent once, and each is stopped by its own consent and opt-out.
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.CASCADE, related_name="+")
    follow_up = models.ForeignKey(
        "outcomes.FollowUp", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    patient = models.ForeignKey(
        "registry.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    # Staff emails (urgent flags) go to one user; digests and lock notices are resolved to addresses at send time.
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.TextField(blank=True, help_text="Address(es) it went to, filled in when sent.")
    dedupe_key = models.CharField(max_length=120, unique=True)
    scheduled_for = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    cancelled_reason = models.CharField(max_length=200, blank=True)
    # Why a queued patient message waits past its time, shown to clinicians: the clinic's daily limit on its channel
    # was reached, so it moved to the next day's sending window (sending.py). Cleared when it is sent.
    held_reason = models.CharField(max_length=100, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A claim is its holder's until this time; a running worker keeps pushing it on, so only the claim of a dead
    # worker or a lost task runs out, and the next sweep takes the row again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Set just before the email goes to the mail server, cleared once the outcome is recorded: a row "sending"
    # with this set may already be in the patient's inbox (see notifications.services.sending).
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A text's reference (given to the provider, kept through retries) is kept here too.
    # The Message-ID header of the email that carries this row, stored before the first hand-over and reused by
    # every retry and resend. Rows of one patient and kind due together go in one email (sending.py): they share it.
    email_message_id = models.CharField(max_length=255, blank=True)
    # The provider's own id for what it took (Notify's notification id, Twilio's SID, the ESP's message id), by
    # which its delivery receipts find the row. The rows of one gathered email share it.
    provider_message_id = models.CharField(max_length=255, blank=True)
    # The current delivery state, derived from all the message's receipts by the precedence rule of
    # notifications.receipts (recomputed at each receipt, never just overwritten by the latest one).
    delivery = models.CharField(max_length=16, choices=DeliveryState.choices, blank=True)
    delivery_reason = models.CharField(max_length=300, blank=True)
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    # The questionnaire link minted for this email (never its token), so opening/starting can be tracked.
    link = models.ForeignKey(
        "outcomes.QuestionnaireLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Non-identifying facts the template needs: a flag id, a link id, digest counts.
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=MessageKind.values), name="message_kind_valid"),
            models.CheckConstraint(condition=models.Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values), name="message_channel_valid"),
            models.CheckConstraint(
                condition=models.Q(delivery__in=[*DeliveryState.values, ""]), name="message_delivery_valid"
            ),
        ]
        indexes = [
            # The sweep's claim: "pending messages whose time has come", oldest first.
            models.Index(fields=["scheduled_for"], name="message_pending_due", condition=models.Q(status="pending")),
            # The sweep's reclaim: "rows whose claim ran out (a worker died or a task was lost)".
            models.Index(
                fields=["lease_expires_at"], name="message_sending_lease", condition=models.Q(status="sending")
            ),
            models.Index(fields=["follow_up", "status"]),
            models.Index(fields=["patient", "scheduled_for"]),
            models.Index(fields=["clinic", "status"]),
            # A delivery receipt's lookup: "the rows the provider knows by this id".
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
            # The chase list's "did not arrive": few rows, so a small partial index.
            models.Index(
                fields=["follow_up"],
                name="message_undelivered",
                condition=models.Q(delivery__in=["failed_temporary", "failed_permanent"]),
            ),
            # The daily cap's count: "patient messages of this clinic and channel sent since the clinic's midnight".
            models.Index(
                fields=["clinic", "channel", "sent_at"], name="message_sent_per_day", condition=models.Q(status="sent")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display().lower()})"

    @property
    def is_for_patient(self) -> bool:
        return self.kind in PATIENT_KINDS

    @property
    def is_text(self) -> bool:
        return self.channel == Channel.SMS

    @property
    def title(self) -> str:
        """What it is, for staff pages: "First reminder", or "First reminder (text message)"."""
        return f"{self.get_kind_display()} (text message)" if self.is_text else self.get_kind_display()

    def delivery_state(self) -> tuple[str, str]:
        """(code, label) of how far this message got, for clinicians: queued, sent, rejected, opened..."""
        if self.status in (MessageStatus.PENDING, MessageStatus.SENDING):
            if self.held_reason:
                return "queued", f"Queued: {self.held_reason.lower()}"
            label = "Queued" if not self.attempts else f"Queued (retrying after {self.attempts} failed attempts)"
            return "queued", label
        if self.status == MessageStatus.FAILED:
            return "rejected", f"Rejected: {self.last_error}"
        if self.status == MessageStatus.CANCELLED:
            return "cancelled", f"Not sent: {self.cancelled_reason}"
        # What the provider told us afterwards: a failure or a complaint outranks anything the link shows.
        if self.delivery in (*UNDELIVERED_STATES, DeliveryState.COMPLAINED):
            label = DeliveryState(self.delivery).label
            if self.delivery == DeliveryState.FAILED_PERMANENT and self.is_text:
                label = "Failed: number refused"
            return self.delivery, f"{label}: {self.delivery_reason}" if self.delivery_reason else label
        link = self.link
        follow_up = self.follow_up
        if follow_up is not None and follow_up.status == "completed" and link and link.started_at:
            return "completed", "Questionnaire completed"
        if link and link.started_at:
            return "started", "Questionnaire started"
        if link and link.first_opened_at:
            return "opened", "Link opened"
        if follow_up is not None and follow_up.status == "completed":
            return "completed", "Questionnaire completed"
        if self.delivery == DeliveryState.OPENED:
            return "opened", "Email opened"
        if self.delivery == DeliveryState.DELIVERED:
            return "delivered", "Delivered"
        if self.delivery == DeliveryState.DEFERRED:
            return "deferred", f"Delayed: {self.delivery_reason}" if self.delivery_reason else "Delayed"
        return "sent", "Sent"


class DeliveryReceipt(models.Model):
    """One delivery callback from a provider (Notify, Twilio, an email service through anymail), as it came and
    as the registry reads it. A repeated callback has the same fingerprint and is stored once; the message's
    current state is derived from all its receipts (notifications.receipts.current_state)."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="receipts")
    provider = models.CharField(max_length=32)
    provider_message_id = models.CharField(max_length=255)
    provider_status = models.CharField(max_length=64, help_text="The provider's own word, as it sent it.")
    state = models.CharField(max_length=16, choices=DeliveryState.choices)
    reason = models.CharField(max_length=300, blank=True)
    # One part of a long text, when the provider reports parts separately ("" for the whole message).
    segment = models.CharField(max_length=32, blank=True)
    provider_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # sha256 of what makes a callback the same callback (provider, id, status, part, time, event id).
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "fingerprint"], name="receipt_once_per_message"),
            models.CheckConstraint(condition=models.Q(state__in=DeliveryState.values), name="receipt_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_status} for message #{self.message_id}"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    TRANSIENT = "transient", "Temporary error (will retry)"
    PERMANENT = "permanent", "Rejected"


class DeliveryAttempt(models.Model):
    """One try at handing a message to the mail server, with what it said."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="delivery_attempts")
    attempted_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=AttemptOutcome.values), name="attempt_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.attempted_at:%Y-%m-%d %H:%M}"


def hash_unsubscribe_token(token: str) -> str:
    # Salted per purpose, so a questionnaire-link hash can never be replayed as an unsubscribe token.
    return hashlib.sha256(f"unsubscribe:{settings.SECRET_KEY}:{token}".encode()).hexdigest()


class UnsubscribeToken(models.Model):
    """The unsubscribe link in one email. Only its hash is stored."""

    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:  # never the token
        return f"Unsubscribe link #{self.pk}"


class CallOutcome(models.TextChoices):
    REACHED_COMPLETED_BY_PHONE = "reached_completed_by_phone", "Reached, completed by phone"
    WILL_COMPLETE_ONLINE = "will_complete_online", "Will complete online"
    DECLINED = "declined", "Declined"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"


# After one of these there is nobody left to chase for this follow-up.
CALL_OUTCOMES_CLOSING_CHASE = (CallOutcome.DECLINED, CallOutcome.WRONG_NUMBER)


class CallAttempt(models.Model):
    """A staff member's phone call chasing an unanswered follow-up."""

    follow_up = models.ForeignKey("outcomes.FollowUp", on_delete=models.CASCADE, related_name="call_attempts")
    clinic = models.ForeignKey("registry.Clinic", on_delete=models.CASCADE, related_name="+")
    called_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    called_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=32, choices=CallOutcome.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-called_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=CallOutcome.values), name="call_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"Call on {self.called_at:%d %b %Y}: {self.get_outcome_display()}"


class TaskHeartbeat(models.Model):
    """When each Celery task last ran and how long it took: one row per task name, written by the worker's
    task_prerun/task_postrun signals (notifications/heartbeat.py). /metrics exposes it, and the worker's and beat's
    health checks read the sweep's row (`manage.py check_liveness`): a stopped worker or beat stops moving it."""

    task = models.CharField(max_length=100, primary_key=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_succeeded_at = models.DateTimeField(null=True, blank=True)
    last_duration_seconds = models.FloatField(default=0)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.task}: {self.runs} runs, {self.failures} failed"

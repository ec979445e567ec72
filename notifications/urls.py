from django.urls import path

from notifications.views import attention, chase, mailbox, ops, receipts, unsubscribe

app_name = "notifications"
urlpatterns = [
    path("attention/", attention.attention, name="attention"),
    path("chase/", chase.chase_list, name="chase-list"),
    path("chase/<int:follow_up_id>/calls/", chase.call_attempt, name="call-attempt"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("dev/mailbox/", mailbox.dev_mailbox, name="dev-mailbox"),
    # Operations (notifications/views/ops.py): the ops page for administrators, Prometheus, the health check.
    path("ops/", ops.ops_page, name="ops"),
    path("ops/messages/<int:pk>/requeue/", ops.ops_message_requeue, name="ops-message-requeue"),
    path("metrics", ops.metrics, name="metrics"),
    path("health/", ops.health, name="health"),
    # Delivery receipts posted by the providers (notifications/views/receipts.py): no sign-in, their own proof.
    path("receipts/notify/", receipts.notify_receipt, name="notify-receipt"),
    path("receipts/twilio/", receipts.twilio_status, name="twilio-status"),
    path("receipts/email/", receipts.email_tracking, name="email-tracking"),
]

from django.urls import path

from notifications import views, views_attention, views_chase, views_ops, views_unsubscribe

app_name = "notifications"
urlpatterns = [
    path("attention/", views_attention.attention, name="attention"),
    path("chase/", views_chase.chase_list, name="chase-list"),
    path("chase/<int:follow_up_id>/calls/", views_chase.call_attempt, name="call-attempt"),
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
    path("dev/mailbox/", views.dev_mailbox, name="dev-mailbox"),
    # Operations (notifications/views_ops.py): the ops page for administrators, Prometheus, the health check.
    path("ops/", views_ops.ops_page, name="ops"),
    path("ops/messages/<int:pk>/requeue/", views_ops.ops_message_requeue, name="ops-message-requeue"),
    path("metrics", views_ops.metrics, name="metrics"),
    path("health/", views_ops.health, name="health"),
]

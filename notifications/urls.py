from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("dev/mailbox/", views.dev_mailbox, name="dev-mailbox"),
]

# Chase list and unsubscribe (outbox engineer's views; the mailbox page above is separate).
from notifications import views_chase, views_unsubscribe  # noqa: E402

urlpatterns += [
    path("chase/", views_chase.chase_list, name="chase-list"),
    path("chase/<int:follow_up_id>/calls/", views_chase.call_attempt, name="call-attempt"),
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
]

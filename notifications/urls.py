from django.urls import path

from notifications import views, views_attention, views_chase, views_unsubscribe

app_name = "notifications"
urlpatterns = [
    path("attention/", views_attention.attention, name="attention"),
    path("chase/", views_chase.chase_list, name="chase-list"),
    path("chase/<int:follow_up_id>/calls/", views_chase.call_attempt, name="call-attempt"),
    path("unsubscribe/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
    path("dev/mailbox/", views.dev_mailbox, name="dev-mailbox"),
]

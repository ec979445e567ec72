from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("dev/mailbox/", views.dev_mailbox, name="dev-mailbox"),
]

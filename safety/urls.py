from django.urls import path

from safety import urls_events, views

app_name = "safety"
urlpatterns = [
    path("flags/", views.flag_list, name="flag-list"),
    path("flags/<int:pk>/", views.flag_detail, name="flag-detail"),
    path("flags/<int:pk>/review/", views.flag_start_review, name="flag-start-review"),
    path("flags/<int:pk>/dismiss/", views.flag_dismiss, name="flag-dismiss"),
    *urls_events.urlpatterns,
]

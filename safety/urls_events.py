"""Adverse-event and export pages (appended to safety/urls.py, so they share the "safety" namespace)."""

from django.urls import path

from safety import views_events, views_exports

urlpatterns = [
    path("adverse-events/", views_events.event_list, name="event-list"),
    path("adverse-events/new/", views_events.event_new, name="event-new"),
    path("adverse-events/<int:pk>/", views_events.event_detail, name="event-detail"),
    path("adverse-events/<int:pk>/correct/", views_events.event_correct, name="event-correct"),
    path("adverse-events/<int:pk>/cioms.pdf", views_events.event_cioms, name="event-cioms"),
    path("flags/<int:pk>/record-event/", views_events.flag_record_event, name="flag-record-event"),
    path("exports/adverse-events/", views_exports.export_page, name="export-page"),
    path("exports/jobs/<int:pk>/", views_exports.export_job, name="export-job"),
    path("exports/jobs/<int:pk>/download/", views_exports.export_job_download, name="export-job-download"),
]

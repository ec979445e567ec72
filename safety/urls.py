from django.urls import path

from safety.views import adverse_events, exports, flags

app_name = "safety"
urlpatterns = [
    path("flags/", flags.flag_list, name="flag-list"),
    path("flags/<int:pk>/", flags.flag_detail, name="flag-detail"),
    path("flags/<int:pk>/review/", flags.flag_start_review, name="flag-start-review"),
    path("flags/<int:pk>/dismiss/", flags.flag_dismiss, name="flag-dismiss"),
    path("adverse-events/", adverse_events.event_list, name="event-list"),
    path("adverse-events/new/", adverse_events.event_new, name="event-new"),
    path("adverse-events/<int:pk>/", adverse_events.event_detail, name="event-detail"),
    path("adverse-events/<int:pk>/correct/", adverse_events.event_correct, name="event-correct"),
    path("adverse-events/<int:pk>/reports/new/", adverse_events.event_report_new, name="event-report-new"),
    path("adverse-events/<int:pk>/cioms.pdf", adverse_events.event_cioms, name="event-cioms"),
    path("flags/<int:pk>/record-event/", adverse_events.flag_record_event, name="flag-record-event"),
    path("exports/adverse-events/", exports.export_page, name="export-page"),
    path("exports/jobs/<int:pk>/", exports.export_job, name="export-job"),
    path("exports/jobs/<int:pk>/download/", exports.export_job_download, name="export-job-download"),
]

from django.urls import path

from outcomes import views, views_comparisons, views_dashboard, views_questionnaire, views_reminder_settings

app_name = "outcomes"
urlpatterns = [
    # The patient's questionnaire: the thanks page first, so "thanks" is never taken for a token.
    path("q/thanks/", views_questionnaire.questionnaire_thanks, name="questionnaire-thanks"),
    path("q/thanks/scores/", views_questionnaire.questionnaire_own_scores, name="questionnaire-own-scores"),
    path("q/<str:token>/", views_questionnaire.questionnaire, name="questionnaire"),
    path("q/<str:token>/check/", views_questionnaire.questionnaire_check, name="questionnaire-check"),
    path("q/<str:token>/draft/", views_questionnaire.questionnaire_draft, name="questionnaire-draft"),
    path("q/<str:token>/opened/", views_questionnaire.questionnaire_opened, name="questionnaire-opened"),
    # Staff.
    path("follow-ups/<int:pk>/tablet/", views.follow_up_tablet, name="follow-up-tablet"),
    path("follow-ups/<int:pk>/enter/", views.follow_up_enter, name="follow-up-enter"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission-detail"),
    path("submissions/<int:pk>/amend/", views.submission_amend, name="submission-amend"),
    path(
        "patients/<str:registry_number>/further-treatment/",
        views.further_treatment_new,
        name="further-treatment-new",
    ),
    # Outcomes dashboard and patient trajectories.
    path("dashboard/outcomes/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/outcomes/csv/<slug:table>/", views_dashboard.dashboard_csv, name="dashboard-csv"),
    path("dashboard/knee-replacement/", views_dashboard.knee_replacement, name="knee-replacement"),
    path("dashboard/knee-replacement/csv/", views_dashboard.knee_replacement_csv, name="knee-replacement-csv"),
    # Randomised comparisons of reminder strategies (the registry testing its own reminders).
    path("reminder-comparisons/", views_comparisons.comparison_list, name="reminder-comparisons"),
    path("reminder-comparisons/new/", views_comparisons.comparison_new, name="reminder-comparison-new"),
    path("reminder-comparisons/<int:pk>/", views_comparisons.comparison_detail, name="reminder-comparison"),
    path("reminder-comparisons/<int:pk>/stop/", views_comparisons.comparison_stop, name="reminder-comparison-stop"),
    path("reminder-comparisons/<int:pk>/csv/", views_comparisons.comparison_csv, name="reminder-comparison-csv"),
    # A clinic's reminder settings: its lead changes them, its staff read them.
    path(
        "clinics/<int:clinic_id>/reminder-settings/",
        views_reminder_settings.reminder_settings_page,
        name="reminder-settings",
    ),
    path(
        "patients/<str:registry_number>/trajectory/",
        views_dashboard.patient_trajectory_page,
        name="patient-trajectory",
    ),
]

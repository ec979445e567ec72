from django.urls import path

from consultations import views, views_exports, views_paths, views_patient_copy, views_reviews

app_name = "consultations"
urlpatterns = [
    path("", views.consultation_list, name="consultation-list"),
    path("patients/<str:registry_number>/new/", views.consultation_new, name="consultation-new"),
    path("<int:pk>/", views.consultation_detail, name="consultation-detail"),
    path("<int:pk>/edit/", views.consultation_edit, name="consultation-edit"),
    path("fallback-paths/", views_paths.fallback_paths, name="fallback-paths"),
    path("fallback-paths.csv", views_paths.fallback_paths_csv, name="fallback-paths-csv"),
    path("exports/consultations.csv", views_exports.consultations_csv, name="export-consultations"),
    path("exports/reviews.csv", views_exports.reviews_csv, name="export-reviews"),
    # The patient's copy (issue 16): staff side. The patient's own page is consultations.urls_patient.
    path("<int:pk>/patient-copy/", views_patient_copy.patient_copy_issue, name="patient-copy-issue"),
    path("<int:pk>/patient-copy/revoke/", views_patient_copy.patient_copy_revoke, name="patient-copy-revoke"),
    path("<int:pk>/patient-copy.pdf", views_patient_copy.patient_copy_staff_pdf, name="patient-copy-pdf"),
    path(
        "clinics/<int:clinic_id>/text-for-patients/",
        views_patient_copy.decision_aid_text_edit,
        name="decision-aid-text",
    ),
    path("reviews/", views_reviews.review_list, name="review-list"),
    path("reviews/<int:plan_id>/record/", views_reviews.review_record, name="review-record"),
    path("reviews/<int:plan_id>/edit/", views_reviews.review_edit, name="review-edit"),
]

from django.urls import path

from consultations import views, views_exports, views_paths

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
]

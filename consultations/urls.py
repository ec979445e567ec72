from django.urls import path

from consultations import views, views_reviews

app_name = "consultations"
urlpatterns = [
    path("", views.consultation_list, name="consultation-list"),
    path("patients/<str:registry_number>/new/", views.consultation_new, name="consultation-new"),
    path("<int:pk>/", views.consultation_detail, name="consultation-detail"),
    path("<int:pk>/edit/", views.consultation_edit, name="consultation-edit"),
    path("reviews/", views_reviews.review_list, name="review-list"),
    path("reviews/<int:plan_id>/record/", views_reviews.review_record, name="review-record"),
    path("reviews/<int:plan_id>/edit/", views_reviews.review_edit, name="review-edit"),
]

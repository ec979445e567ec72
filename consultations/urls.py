from django.urls import path

from consultations import views

app_name = "consultations"
urlpatterns = [
    path("", views.consultation_list, name="consultation-list"),
    path("patients/<str:registry_number>/new/", views.consultation_new, name="consultation-new"),
    path("<int:pk>/", views.consultation_detail, name="consultation-detail"),
    path("<int:pk>/edit/", views.consultation_edit, name="consultation-edit"),
]

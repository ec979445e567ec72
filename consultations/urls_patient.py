"""The patient's copy of a consultation at /copy/<token>/: no login, the token is the key
(consultations.views_patient_copy)."""

from django.urls import path

from consultations import views_patient_copy

app_name = "patient-copy"
urlpatterns = [
    path("<str:token>/", views_patient_copy.patient_copy_page, name="page"),
    path("<str:token>/pdf/", views_patient_copy.patient_copy_pdf_download, name="pdf"),
]

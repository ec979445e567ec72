from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.home, name="home"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_enrol, name="patient-enrol"),
    path("patients/<str:registry_number>/", views.patient_detail, name="patient-detail"),
    path("patients/<str:registry_number>/edit/", views.patient_edit, name="patient-edit"),
    path("patients/<str:registry_number>/withdraw/", views.patient_withdraw, name="patient-withdraw"),
    path("patients/<str:registry_number>/injections/new/", views.injection_new, name="injection-new"),
    path("injections/<int:pk>/", views.injection_detail, name="injection-detail"),
    path("injections/<int:pk>/edit/", views.injection_edit, name="injection-edit"),
]

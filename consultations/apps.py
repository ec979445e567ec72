from django.apps import AppConfig


class ConsultationsConfig(AppConfig):
    name = "consultations"
    verbose_name = "Consultations"

    def ready(self) -> None:
        from consultations.services import consultation_injection_initial, consultation_link_injection
        from registry import prefill

        # The injection form opened from a consultation ("Record the injection") starts from its factors and
        # product, and the saved injection is linked back to it. Registry cannot import consultations (imports
        # point down), so the consultation is handed in here as a source of initial values.
        prefill.provide("consultation", initial=consultation_injection_initial, link=consultation_link_injection)

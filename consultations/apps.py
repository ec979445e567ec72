from django.apps import AppConfig


class ConsultationsConfig(AppConfig):
    name = "consultations"
    verbose_name = "Consultations"

    def ready(self) -> None:
        from consultations.review_services import review_injection_initial, review_link_injection
        from consultations.services import consultation_injection_initial, consultation_link_injection
        from registry import prefill

        # The injection form opened from a consultation ("Record the injection") starts from its factors and
        # product, and the saved injection is linked back to it. Registry cannot import consultations (imports
        # point down), so the consultation is handed in here as a source of initial values.
        prefill.provide("consultation", initial=consultation_injection_initial, link=consultation_link_injection)
        # "Record the injection" from a fallback review: the product offered, and the new course repeats the one
        # reviewed (registry.models.TreatmentPlan.repeat_of).
        prefill.provide("review", initial=review_injection_initial, link=review_link_injection)

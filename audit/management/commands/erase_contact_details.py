"""python manage.py erase_contact_details KR-XXXX-XXXX --reason "Patient's written request of 3 May" --by lead_north

Removes the patient's name, email and phone from the registry, its history and its sent-email records; keeps
the pseudonymised clinical record. See audit/erasure.py and README "Security"."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.erasure import patient_erase_contact_details
from registry.models import Patient


class Command(BaseCommand):
    help = "Erase a patient's contact details (name, email, phone) everywhere, keeping the pseudonymised record."

    def add_arguments(self, parser):
        parser.add_argument("registry_number")
        parser.add_argument("--reason", required=True, help="Why (recorded in the audit trail).")
        parser.add_argument("--by", default="", help="Username of the staff member who authorised the erasure.")

    def handle(self, *args, registry_number: str, reason: str, by: str, **options):
        patient = Patient.objects.filter(registry_number=registry_number.strip().upper()).first()
        if patient is None:
            raise CommandError(f"No patient with registry number {registry_number!r}.")
        user = None
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(f"No user {by!r}.")
        try:
            patient_erase_contact_details(patient=patient, by=user, reason=reason)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Contact details of {patient.registry_number} erased."))

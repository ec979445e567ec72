"""The demo shows issue 16's fallback reviews: a non-responder who took the repeat injection (the repeat course
linked to the one that did not help), one who declined, and one whose follow-up is missing still on the list."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from consultations.models import FallbackReview
from consultations.reviews import review_list
from registry.models import TreatmentPlan


@pytest.fixture
def seeded(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    call_command("seed_demo", "--injections", "0", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_demo_has_reviews_and_a_course_still_due(seeded, client):
    clinician = get_user_model().objects.get(username="clinician")
    took_repeat = FallbackReview.objects.get(plan__patient__full_name="Farah Siddiqui")
    assert (took_repeat.finding, took_repeat.path_taken) == ("not_improved", "repeat_injection")
    repeat = TreatmentPlan.objects.get(repeat_of=took_repeat.plan)
    assert repeat.product == took_repeat.plan.product == "prp"
    declined = FallbackReview.objects.get(plan__patient__full_name="Colin Baptiste")
    assert (declined.finding, declined.path_taken) == ("not_improved", "declined")
    due = {c.patient.full_name: c.finding for c in review_list(clinician)}
    assert due["Mei Tanaka"] == "no_follow_up"
    assert "Farah Siddiqui" not in due
    client.force_login(clinician)
    page = client.get(reverse("consultations:review-list")).text
    assert "Took a repeat injection" in page
    assert "Declined what was offered" in page
    assert "Repeat course recorded" in page

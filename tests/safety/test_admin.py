"""Flags and evaluations in the admin: scoped to the user's clinics, read-only, never deleted."""

import pytest

from registry.choices import Role
from registry.memberships import membership_grant
from safety.choices import FlagStatus
from safety.models import Evaluation
from safety.services import flags_evaluate
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def admin_user_with(clinic, role):
    user = UserFactory()
    membership_grant(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def flags(journey, other_clinic, outsider):
    mine = flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes"}).pk)[0]
    theirs = flags_evaluate(
        journey(patient=PatientFactory(clinic=other_clinic), by=outsider).one_month(**{"SAFETY.fever": "yes"}).pk
    )[0]
    return mine, theirs


def test_changelist_is_scoped(client, clinic, flags):
    mine, theirs = flags
    client.force_login(admin_user_with(clinic, Role.CLINICIAN))
    response = client.get("/admin/safety/flag/")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    assert client.get(f"/admin/safety/flag/{theirs.pk}/change/").status_code in (302, 404)


def test_read_only_and_never_deleted(client, clinic, flags):
    mine, _ = flags
    client.force_login(admin_user_with(clinic, Role.CLINICIAN))
    page = client.get(f"/admin/safety/flag/{mine.pk}/change/")
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert client.post(f"/admin/safety/flag/{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.post(f"/admin/safety/flag/{mine.pk}/change/", {"status": "dismissed"})
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.status == FlagStatus.OPEN


def test_writers_start_review_from_the_list_auditors_cannot(client, clinic, flags):
    mine, _ = flags
    auditor = admin_user_with(clinic, Role.AUDITOR)
    client.force_login(auditor)
    action_form = client.get("/admin/safety/flag/").context["action_form"]
    assert action_form is None or "start_review" not in dict(action_form.fields["action"].choices)
    client.post("/admin/safety/flag/", {"action": "start_review", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.status == FlagStatus.OPEN

    clinician = admin_user_with(clinic, Role.CLINICIAN)
    client.force_login(clinician)
    client.post("/admin/safety/flag/", {"action": "start_review", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert (mine.status, mine.reviewed_by) == (FlagStatus.IN_REVIEW, clinician)


def test_failed_evaluations_visible_and_retried_from_the_admin(client, clinic, journey):
    submission = journey().one_month(**{"SAFETY.hospital_admission": "yes"})
    evaluation = Evaluation.objects.create(submission=submission, attempts=2, error="RuntimeError: boom")
    client.force_login(admin_user_with(clinic, Role.LEAD))
    listing = client.get("/admin/safety/evaluation/")
    assert "RuntimeError: boom" in listing.content.decode()
    client.post("/admin/safety/evaluation/", {"action": "evaluate_again", "_selected_action": [evaluation.pk]})
    evaluation.refresh_from_db()
    assert (evaluation.failed, evaluation.attempts) == (False, 3)
    assert submission.flags.get().rule == "safety_hospital_admission"

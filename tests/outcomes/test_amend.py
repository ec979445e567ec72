"""Clinician amendments: a reason is required, the original answers and scores are kept beside the correction,
and the current scores follow the correction. Plus the read-only admin for submissions."""

import pytest

from outcomes.models import Amendment, Submission
from outcomes.services import questionnaire_submit
from tests.support.answers import answers_for


@pytest.fixture
def submission(baseline):
    return questionnaire_submit(follow_up=baseline, data=answers_for(baseline, **{"VAS.pain": "80"}))


def amend_url(submission):
    return f"/submissions/{submission.pk}/amend/"


def test_amendment_keeps_the_original_beside_the_correction(client, clinician, submission, baseline):
    original_answers, original_scores = submission.answers, submission.scores
    client.force_login(clinician)
    data = {**answers_for(baseline, **{"VAS.pain": "8"}), "reason": "Patient meant 8, not 80 (phone call)"}

    response = client.post(amend_url(submission), data)

    assert response.status_code == 302
    assert response["Location"] == f"/submissions/{submission.pk}/"
    submission.refresh_from_db()
    assert submission.answers == original_answers
    assert submission.scores == original_scores
    assert submission.vas_pain == 8.0
    assert submission.amended is True
    amendment = Amendment.objects.get(submission=submission)
    assert amendment.amended_by == clinician
    assert amendment.reason == "Patient meant 8, not 80 (phone call)"
    assert amendment.answers_before == original_answers
    assert amendment.answers_after["VAS"]["pain"] == {"value": 8}
    assert amendment.scores_before["VAS"] == {"pain": 80.0}

    page = client.get(response["Location"]).content.decode()
    assert "80" in page
    assert "8" in page
    assert 'class="changed"' in page
    assert "Patient meant 8, not 80" in page


def test_a_second_amendment_starts_from_the_first(client, clinician, submission, baseline):
    client.force_login(clinician)
    client.post(amend_url(submission), {**answers_for(baseline, **{"VAS.pain": "8"}), "reason": "First"})
    client.post(amend_url(submission), {**answers_for(baseline, **{"VAS.pain": "18"}), "reason": "Second"})
    first, second = Amendment.objects.filter(submission=submission).order_by("amended_at", "id")
    assert second.answers_before == first.answers_after
    assert Submission.objects.get(pk=submission.pk).vas_pain == 18.0


def test_amendment_needs_a_reason(client, clinician, submission, baseline):
    client.force_login(clinician)
    response = client.post(amend_url(submission), {**answers_for(baseline, **{"VAS.pain": "8"}), "reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Amendment.objects.exists()
    assert Submission.objects.get(pk=submission.pk).vas_pain == 80.0


def test_amendment_with_a_bad_value_changes_nothing(client, clinician, submission, baseline):
    client.force_login(clinician)
    response = client.post(amend_url(submission), {**answers_for(baseline, **{"KOOS.P1": "9"}), "reason": "Typo"})
    assert response.status_code == 400
    assert 'id="q-KOOS-P1-error"' in response.content.decode()
    assert not Amendment.objects.exists()


def test_amend_form_starts_from_the_current_answers(client, clinician, submission):
    client.force_login(clinician)
    html = client.get(amend_url(submission)).content.decode()
    assert 'name="reason"' in html
    assert 'id="q-VAS-pain-number" name="VAS.pain"' in html
    assert 'value="80"' in html


def test_outsider_404_auditor_reads_but_cannot_amend(client, outsider, auditor, submission, baseline):
    data = {**answers_for(baseline, **{"VAS.pain": "8"}), "reason": "x"}
    client.force_login(outsider)
    assert client.get(f"/submissions/{submission.pk}/").status_code == 404
    assert client.get(amend_url(submission)).status_code == 404
    assert client.post(amend_url(submission), data).status_code == 404
    client.force_login(auditor)
    detail = client.get(f"/submissions/{submission.pk}/")
    assert detail.status_code == 200
    assert amend_url(submission) not in detail.content.decode()
    assert client.get(amend_url(submission)).status_code == 403
    assert client.post(amend_url(submission), data).status_code == 403
    assert not Amendment.objects.exists()


def test_admin_cannot_delete_or_edit_submissions(client, admin_user, submission):
    client.force_login(admin_user)
    assert client.get("/admin/outcomes/submission/").status_code == 200
    assert client.get(f"/admin/outcomes/submission/{submission.pk}/delete/").status_code == 403
    detail = client.get(f"/admin/outcomes/submission/{submission.pk}/change/").content.decode()
    assert 'name="_save"' not in detail
    assert client.get("/admin/outcomes/amendment/add/").status_code == 403


def test_admin_is_scoped_to_the_staff_members_clinics(client, outsider, submission):
    outsider.is_staff = True
    outsider.save()
    from django.contrib.auth.models import Permission

    outsider.user_permissions.add(Permission.objects.get(codename="view_submission"))
    client.force_login(outsider)
    assert client.get("/admin/outcomes/submission/").status_code == 200
    assert (
        f"/admin/outcomes/submission/{submission.pk}/change/"
        not in client.get("/admin/outcomes/submission/").content.decode()
    )
    assert client.get(f"/admin/outcomes/submission/{submission.pk}/change/").status_code == 302  # not found

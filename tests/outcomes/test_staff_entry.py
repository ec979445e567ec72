"""Clinic mode (the tablet), staff entering answers for a patient, and the follow-ups on the patient's page."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.models import QuestionnaireLink, Submission, SubmissionSource, Timepoint
from outcomes.models.questionnaire import LinkChannel
from outcomes.services import questionnaire_submit
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up


def tablet_url(fu):
    return f"/follow-ups/{fu.pk}/tablet/"


def enter_url(fu):
    return f"/follow-ups/{fu.pk}/enter/"


# --- Clinic tablet --------------------------------------------------------------------------------------------


def test_tablet_opens_a_clinic_link_and_records_the_submission_as_in_clinic(client, clinician, baseline):
    client.force_login(clinician)
    response = client.post(tablet_url(baseline))
    assert response.status_code == 302
    match = re.fullmatch(r"/q/([A-Za-z0-9_\-]{43,})/", response["Location"])
    assert match, response["Location"]
    link = QuestionnaireLink.objects.get(follow_up=baseline)
    assert (link.channel, link.created_by) == (LinkChannel.CLINIC, clinician)

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "data-local-key" not in page.content.decode()  # a shared tablet keeps nothing in the browser

    done = client.post(response["Location"], answers_for(baseline))
    assert done.status_code == 302
    submission = Submission.objects.get(follow_up=baseline)
    assert submission.source == SubmissionSource.CLINIC_TABLET
    assert submission.late is False
    assert "hand the tablet back" in client.get(done["Location"]).content.decode()


def test_tablet_skips_the_year_of_birth_check(client, clinician, clinic, baseline):
    clinic.link_requires_year_of_birth = True
    clinic.save()
    client.force_login(clinician)
    location = client.post(tablet_url(baseline))["Location"]
    assert 'name="KOOS.P1"' in client.get(location).content.decode()


def test_tablet_is_post_only(client, clinician, baseline):
    client.force_login(clinician)
    assert client.get(tablet_url(baseline)).status_code == 405
    assert not QuestionnaireLink.objects.exists()


def test_tablet_refused_when_the_follow_up_is_not_open(client, clinician, recorded):
    client.force_login(clinician)
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    response = client.post(tablet_url(one_month))
    assert response.status_code == 302
    assert "/patients/" in response["Location"]
    assert not QuestionnaireLink.objects.exists()


def test_tablet_outsider_404_auditor_403_anonymous_to_login(client, outsider, auditor, baseline):
    client.force_login(outsider)
    assert client.post(tablet_url(baseline)).status_code == 404
    client.force_login(auditor)
    assert client.post(tablet_url(baseline)).status_code == 403
    client.logout()
    assert client.post(tablet_url(baseline)).status_code == 302
    assert not QuestionnaireLink.objects.exists()


# --- Staff entry ------------------------------------------------------------------------------------------------


def test_staff_entry_renders_the_same_questionnaire(client, clinician, baseline):
    client.force_login(clinician)
    response = client.get(enter_url(baseline))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="KOOS.P1"' in html
    assert 'name="VAS.pain"' in html
    assert "data-draft-url" not in html  # no autosave for staff


def test_staff_entry_records_source_and_who_entered(client, clinician, baseline, patient):
    client.force_login(clinician)
    response = client.post(enter_url(baseline), answers_for(baseline))
    assert response.status_code == 302
    assert response["Location"].startswith(f"/patients/{patient.registry_number}/")
    submission = Submission.objects.get(follow_up=baseline)
    assert (submission.source, submission.entered_by) == (SubmissionSource.STAFF_ENTERED, clinician)


def test_staff_entry_shows_errors_next_to_items(client, clinician, baseline):
    client.force_login(clinician)
    response = client.post(enter_url(baseline), answers_for(baseline, **{"VAS.pain": "150"}))
    assert response.status_code == 400
    assert 'id="q-VAS-pain-error">Give a number from 0 to 100.' in response.content.decode()
    assert not Submission.objects.exists()


def test_baseline_entered_after_the_injection_is_flagged_late(client, clinician, baseline):
    with travel_to(baseline.due_on + dt.timedelta(days=2)):
        client.force_login(clinician)
        page = client.get(enter_url(baseline))
        assert "flagged as late" in page.content.decode()
        client.post(enter_url(baseline), answers_for(baseline))
    assert Submission.objects.get(follow_up=baseline).late is True


def test_staff_entry_of_a_completed_follow_up_is_refused(client, clinician, baseline):
    questionnaire_submit(follow_up=baseline, data=answers_for(baseline))
    client.force_login(clinician)
    response = client.post(enter_url(baseline), answers_for(baseline, **{"VAS.pain": "99"}))
    assert response.status_code == 302
    assert Submission.objects.get(follow_up=baseline).vas_pain == 40.0


def test_staff_entry_waits_for_the_window_to_open(client, clinician, recorded, patient):
    six_months = follow_up(recorded, Timepoint.SIX_MONTHS)
    client.force_login(clinician)
    response = client.post(enter_url(six_months), answers_for(six_months))
    assert response.status_code == 302
    assert not Submission.objects.exists()
    html = client.get(f"/patients/{patient.registry_number}/").content.decode()
    assert enter_url(six_months) not in html
    assert enter_url(follow_up(recorded)) in html  # the open baseline can be entered


def test_missed_follow_up_can_still_be_entered_from_the_chase_list(client, clinician, recorded):
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.closes_on + dt.timedelta(days=5)):
        client.force_login(clinician)
        page = client.get(enter_url(one_month))
        assert "window closed on" in page.content.decode()
        assert client.post(enter_url(one_month), answers_for(one_month)).status_code == 302
    assert Submission.objects.get(follow_up=one_month).source == SubmissionSource.STAFF_ENTERED


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_entry_outsider_404_auditor_403(client, outsider, auditor, baseline, method):
    client.force_login(outsider)
    assert getattr(client, method)(enter_url(baseline)).status_code == 404
    client.force_login(auditor)
    assert getattr(client, method)(enter_url(baseline)).status_code == 403
    assert not Submission.objects.exists()


# --- Follow-ups on the patient's page -------------------------------------------------------------------------


def test_patient_page_lists_follow_ups_with_scores_and_change(client, clinician, recorded, baseline, patient):
    data = answers_for(baseline)
    data.update({k: "2" for k in data if k.startswith(("KOOS.", "OKS."))})
    data.update({"VAS.pain": "70", "PGA.global": "70", "OKS.Q1": None})
    questionnaire_submit(follow_up=baseline, data={k: v for k, v in data.items() if v is not None})
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        later = answers_for(one_month)
        later.update({k: "0" for k in later if k.startswith("KOOS.")})
        later.update({k: "4" for k in later if k.startswith("OKS.")})
        later.update({"VAS.pain": "20", "PGA.global": "20"})
        questionnaire_submit(follow_up=one_month, data=later)
        client.force_login(clinician)
        html = client.get(f"/patients/{patient.registry_number}/").content.decode()

    section = html[html.index('id="follow-ups"') :]
    assert "Baseline" in section
    assert "1 month" in section
    assert "6 months" in section
    assert "KOOS Pain <strong>50.0</strong>" in section
    assert "imputed" in section  # baseline OKS had one item missing
    assert "KOOS Pain <strong>+50.0</strong>" in section
    assert "MCID reached" in section
    assert "OMERACT-OARSI responder:" in section
    assert "criterion A" in section
    assert "Open on clinic tablet" not in section  # nothing is open today
    assert f"/submissions/{baseline.submission.pk}/amend/" in section


def test_patient_page_offers_the_tablet_for_an_open_baseline(client, clinician, baseline, patient):
    client.force_login(clinician)
    html = client.get(f"/patients/{patient.registry_number}/").content.decode()
    assert f'action="/follow-ups/{baseline.pk}/tablet/"' in html
    assert 'name="csrfmiddlewaretoken"' in html[html.index(f"/follow-ups/{baseline.pk}/tablet/") :][:300]


def test_auditor_sees_follow_ups_but_no_actions(client, auditor, baseline, patient):
    client.force_login(auditor)
    html = client.get(f"/patients/{patient.registry_number}/").content.decode()
    assert "Follow-ups and outcomes" in html
    assert "/tablet/" not in html
    assert "/enter/" not in html


def _tag_queries(patient, user, rf):
    from django.contrib.auth import get_user_model
    from django.template import Context, Template

    request = rf.get("/")
    request.user = get_user_model().objects.get(pk=user.pk)  # nothing cached on the user from earlier renders
    template = Template("{% load outcomes_tags %}{% patient_follow_ups patient %}")
    with CaptureQueriesContext(connection) as queries:
        html = template.render(Context({"patient": patient, "request": request, "may_write": True}))
    return len(queries), html


def _completed_plan(patient, clinician, knee, product="bmac"):
    """A plan whose baseline and 1-month follow-up are both answered."""
    with travel_to(dt.date(2026, 3, 1)):
        protocol = None if product == "bmac" else {}
        extra = {"protocol": protocol} if protocol is not None else {}
        injection = make_injection(patient, clinician, knee=knee, product=product, **extra)
        base = follow_up(injection)
        questionnaire_submit(follow_up=base, data=answers_for(base))
    one_month = follow_up(injection, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        questionnaire_submit(follow_up=one_month, data=answers_for(one_month))


def test_follow_ups_block_takes_a_fixed_number_of_queries(clinician, rf, clinic):
    one, many = PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)
    _completed_plan(one, clinician, "left")
    _completed_plan(many, clinician, "left")
    _completed_plan(many, clinician, "right")
    _completed_plan(many, clinician, "left", product="saline")
    with travel_to(dt.date(2026, 4, 10)):
        few, _ = _tag_queries(one, clinician, rf)
        more, html = _tag_queries(many, clinician, rf)
    assert few == more <= 4
    assert html.count('<tr id="follow-up-') == 15  # 3 plans x (baseline, 2 safety checks, 1 and 6 months)
    assert html.count("OMERACT-OARSI responder:") == 3


def test_the_service_refuses_staff_entry_before_the_window_opens(clinician, patient):
    import datetime as dt

    from django.utils import timezone

    from outcomes.models import FollowUp, Timepoint
    from outcomes.services import NotOpen, questionnaire_submit
    from tests.factories import make_injection, questionnaire_data

    injection = make_injection(patient, clinician, injected_on=timezone.localdate() + dt.timedelta(days=7))
    six_months = FollowUp.objects.get(plan=injection.plan, timepoint=Timepoint.SIX_MONTHS)
    with pytest.raises(NotOpen):
        questionnaire_submit(
            follow_up=six_months, data=questionnaire_data(six_months), source="staff_entered", entered_by=clinician
        )
    assert not Submission.objects.filter(follow_up=six_months).exists()

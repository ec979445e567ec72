"""Submitting the questionnaire: atomic and final, validated item by item, stored once even under a race."""

import threading

import pytest
from django.db import connection
from django.test import Client

from outcomes import signals
from outcomes.models import FollowUp, FollowUpStatus, QuestionnaireDraft, Submission, SubmissionSource
from outcomes.services import AlreadySubmitted, draft_save, questionnaire_submit
from tests.support.answers import answers_for
from tests.support.journeys import q_url


def test_happy_path_stores_answers_versions_and_scores_together(client, token, baseline):
    data = answers_for(baseline, **{"KOOS.P1": "0", "KOOS.S4": "0", "OKS.Q1": "4", "VAS.pain": "37"})
    draft_save(follow_up=baseline, data={"KOOS.P1": "2"})

    response = client.post(q_url(token), data)

    assert response.status_code == 302
    assert response["Location"].startswith("/q/thanks/?s=")
    submission = Submission.objects.get(follow_up=baseline)
    assert submission.source == SubmissionSource.PATIENT_LINK
    assert submission.entered_by is None
    assert submission.answers["KOOS"]["P1"]["value"] == 0
    assert submission.answers["KOOS"]["P1"]["option"]  # the label the score came from is kept with it
    assert submission.answers["KOOS"]["S4"]["option"] == "Always"  # reversed labels: "Always" is score 0
    assert submission.answers["VAS"]["pain"] == {"value": 37}
    assert submission.instrument_versions == {"KOOS": "2012", "OKS": "2018", "VAS": "1", "PGA": "1"}
    assert submission.scores["VAS"] == {"pain": 37.0}
    assert submission.vas_pain == 37.0
    assert submission.koos_pain is not None
    assert 0 <= submission.koos_pain <= 100
    assert submission.oks_total is not None
    assert submission.submitted_at is not None
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.COMPLETED
    assert not QuestionnaireDraft.objects.filter(follow_up=baseline).exists()


def test_scores_follow_the_scoring_key(client, token, baseline):
    # Every KOOS item at score 1 of 4: every subscale is 100 - 25 = 75. Every OKS item at 3: total 36.
    data = answers_for(baseline)
    data.update({k: "1" for k in data if k.startswith("KOOS.")})
    data.update({k: "3" for k in data if k.startswith("OKS.")})
    client.post(q_url(token), data)
    submission = Submission.objects.get(follow_up=baseline)
    assert submission.scores["KOOS"] == {"pain": 75.0, "symptoms": 75.0, "adl": 75.0, "sport_rec": 75.0, "qol": 75.0}
    assert submission.oks_total == 36.0
    assert submission.oks_imputed is False


def test_oks_with_two_missing_items_is_imputed(client, token, baseline):
    data = answers_for(baseline, **{"OKS.Q1": None, "OKS.Q2": None})
    data.update({k: "2" for k in data if k.startswith("OKS.")})
    client.post(q_url(token), data)
    submission = Submission.objects.get(follow_up=baseline)
    assert submission.oks_total == 24.0
    assert submission.oks_imputed is True


def test_second_submission_gets_the_already_submitted_page(client, token, baseline):
    assert client.post(q_url(token), answers_for(baseline)).status_code == 302
    response = client.post(q_url(token), answers_for(baseline, **{"VAS.pain": "90"}))
    assert response.status_code == 409
    assert "already been sent" in response.content.decode()
    assert Submission.objects.get(follow_up=baseline).vas_pain == 40.0


def test_required_items_are_required(client, token, baseline):
    response = client.post(q_url(token), answers_for(baseline, **{"VAS.pain": None, "PGA.global": None}))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="q-VAS-pain-error">Please answer this question.' in html
    assert 'id="q-PGA-global-error">Please answer this question.' in html
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "name", "message"),
    [
        ({"KOOS.P1": "7"}, "KOOS.P1", "Choose one of the answers."),
        ({"VAS.pain": "abc"}, "VAS.pain", "Choose one of the answers."),
        ({"VAS.pain": "101"}, "VAS.pain", "Give a number from 0 to 100."),
        ({"OKS.Q3": "2\x00"}, "OKS.Q3", "Choose one of the answers."),
        ({"KOOS.ZZ9": "1"}, "KOOS.ZZ9", "This question is not part of this questionnaire."),
    ],
)
def test_bad_values_are_refused_next_to_the_item_and_nothing_is_stored(
    client, token, baseline, overrides, name, message
):
    response = client.post(q_url(token), answers_for(baseline, **overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert name in html
    assert not Submission.objects.exists()
    assert FollowUp.objects.get(pk=baseline.pk).status == FollowUpStatus.OPEN


@pytest.mark.parametrize(
    ("text", "message"),
    [("ok\x00then", "cannot be stored"), ("x" * 100_000, "under 2000 characters")],
)
def test_bad_free_text_is_refused(client, recorded, text, message):
    from outcomes.models import Timepoint
    from outcomes.services import link_create
    from tests.support.clock import travel_to
    from tests.support.journeys import follow_up

    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        token = link_create(follow_up=one_month)
        response = client.post(q_url(token), answers_for(one_month, **{"SAFETY.other": text}))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="q-SAFETY-other-error"' in html
    assert message in html
    assert not Submission.objects.exists()


def test_submission_takes_a_bounded_number_of_queries(client, token, baseline, django_assert_max_num_queries):
    data = answers_for(baseline)
    # Resolve link, lock follow-up, insert submission, update follow-up, history rows, delete draft, session.
    with django_assert_max_num_queries(15):
        response = client.post(q_url(token), data)
    assert response.status_code == 302


def test_submission_announces_itself_after_commit(client, token, baseline, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, submission, **kwargs):
        received.append(submission.pk)

    signals.questionnaire_submitted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client.post(q_url(token), answers_for(baseline))
    finally:
        signals.questionnaire_submitted.disconnect(receiver)
    assert received == [Submission.objects.get().pk]


def test_csrf_is_checked_even_though_browsers_send_origin_null(token, baseline):
    # Referrer-Policy: no-referrer makes Chromium send "Origin: null" on the form POST.
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(q_url(token))
    csrf = page.cookies["csrftoken"].value
    refused = browser.post(q_url(token), answers_for(baseline), HTTP_ORIGIN="null")
    assert refused.status_code == 403
    assert not Submission.objects.exists()
    accepted = browser.post(q_url(token), {**answers_for(baseline), "csrfmiddlewaretoken": csrf}, HTTP_ORIGIN="null")
    assert accepted.status_code == 302
    assert Submission.objects.filter(follow_up=baseline).count() == 1


def test_cross_site_origin_is_still_refused(token, baseline):
    browser = Client(enforce_csrf_checks=True)
    csrf = browser.get(q_url(token)).cookies["csrftoken"].value
    response = browser.post(
        q_url(token), {**answers_for(baseline), "csrfmiddlewaretoken": csrf}, HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_the_same_moment_store_exactly_one(postgres_required, clinic, patient, clinician):
    from tests.factories import make_injection
    from tests.support.clock import travel_to
    from tests.support.journeys import DAY_BEFORE, follow_up

    with travel_to(DAY_BEFORE):
        fu = follow_up(make_injection(patient, clinician))
        data = answers_for(fu)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def submit():
            try:
                barrier.wait(timeout=5)
                questionnaire_submit(follow_up=FollowUp.objects.get(pk=fu.pk), data=data)
                outcomes.append("stored")
            except AlreadySubmitted:
                outcomes.append("already")
            finally:
                connection.close()

        threads = [threading.Thread(target=submit) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    assert sorted(outcomes) == ["already", "stored"]
    assert Submission.objects.filter(follow_up=fu).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_posts_at_the_same_moment_one_thanks_one_already_submitted(postgres_required, patient, clinician):
    from outcomes.services import link_create
    from tests.factories import make_injection
    from tests.support.clock import travel_to
    from tests.support.journeys import DAY_BEFORE, follow_up

    with travel_to(DAY_BEFORE):
        fu = follow_up(make_injection(patient, clinician))
        token = link_create(follow_up=fu)
        data = answers_for(fu)
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def post():
            try:
                barrier.wait(timeout=5)
                codes.append(Client().post(q_url(token), data).status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    assert sorted(codes) == [302, 409]
    assert Submission.objects.filter(follow_up=fu).count() == 1

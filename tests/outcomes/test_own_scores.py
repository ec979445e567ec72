"""After sending a questionnaire, the patient may see their own scores for that knee over time (issue 17; Geerards
et al.): plain words in their language, the stored scores only, this knee's course only, a missing timepoint or an
unscorable part said as such, VAS read the right way round, reached only through a signed, short-lived view token
bound to the submission, gated by the clinic's setting."""

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core import signing
from django.urls import reverse

from outcomes import own_scores
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from outcomes.services import link_create
from outcomes.views_questionnaire import OWN_SCORES_SALT, own_scores_token
from registry.choices import Knee
from tests.factories import PatientFactory, questionnaire_data
from tests.support.clock import LONDON
from tests.support.journeys import BASELINE_AT, ONE_MONTH_AT, q_url

pytestmark = pytest.mark.django_db
SCORES = "/q/thanks/scores/"
BETTER_PAIN = {f"KOOS.P{i}": "1" for i in range(1, 10)}  # KOOS Pain 75 (every item "2" scores 50)
NO_SPORT = {f"KOOS.SP{i}": None for i in range(1, 6)}  # no Sport/Rec item answered: not scorable


def _text(response) -> str:
    """The page's visible words, one space between them (entities decoded)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _send(client, follow_up: FollowUp, when: dt.datetime, **overrides):
    """The patient answers through their link at `when` and lands on the thanks page: (thanks response, now)."""
    with time_machine.travel(when, tick=False):
        token = link_create(follow_up=follow_up)
        response = client.post(q_url(token), questionnaire_data(follow_up, **overrides))
        assert response.status_code == 302, response.content.decode()[:400]
        return client.get(response["Location"])


def _scores_url(thanks) -> str:
    match = re.search(r'href="([^"]+)" data-testid="own-scores-link"', thanks.content.decode())
    assert match, "the thanks page offers no scores"
    return unescape(match[1])


@pytest.fixture
def course(journey):
    """Left knee: baseline answered (KOOS 50s, VAS 30); the 1-month questionnaire open for the patient."""
    trip = journey()
    trip.baseline(**{"VAS.pain": "60"})
    return trip


def test_baseline_and_one_month_in_plain_words_with_the_right_way_round(client, course):
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT, **BETTER_PAIN, **{"VAS.pain": "20"})
    with time_machine.travel(ONE_MONTH_AT + dt.timedelta(minutes=5), tick=False):
        response = client.get(_scores_url(thanks))
    assert response.status_code == 200
    text = _text(response)
    assert "These are your own answers about your left knee, injected on 2 March 2026." in text
    assert (
        "Your knee pain score went from 50 (before your injection) to 75 (about 1 month after your injection), "
        "out of 100 (higher is better)." in text
    )
    # The pain slider falls as pain eases: said so, not "higher is better".
    assert (
        "Your pain slider score went from 60 (before your injection) to 20 (about 1 month after your injection), "
        "out of 100 (lower is better: 0 means no pain)." in text
    )
    assert "Your Oxford Knee Score went from 24 (before your injection) to 24" in text
    assert "out of 48 (higher is better)" in text
    assert "About 6 months after your injection: Not due yet. We will ask you around" in text
    assert re.search(r"About 1 month after your injection: 75 out of 100", text)
    # The bar repeats the number, hidden from screen readers; its length is the share of the scale.
    assert '<rect class="own-scores-fill" width="75.0" height="6">' in response.content.decode()
    assert 'aria-hidden="true"' in response.content.decode()
    assert "If you are worried about your knee, contact North Knee Clinic" in text
    assert response["Content-Language"] == "en-gb"


def test_six_months_joins_the_sentence_and_the_list(client, course):
    course.submit(Timepoint.ONE_MONTH, ONE_MONTH_AT, **BETTER_PAIN)
    six = course.follow_up(Timepoint.SIX_MONTHS)
    when = dt.datetime.combine(six.opens_on, dt.time(10), tzinfo=LONDON)
    thanks = _send(client, six, when, **{f"KOOS.P{i}": "0" for i in range(1, 10)})
    with time_machine.travel(when, tick=False):
        text = _text(client.get(_scores_url(thanks)))
    assert (
        "Your knee pain score went from 50 (before your injection) to 100 (about 6 months after your injection)" in text
    )
    assert "About 1 month after your injection: 75 out of 100" in text
    assert "About 6 months after your injection: 100 out of 100" in text


def test_a_missing_timepoint_is_explained_never_invented(client, journey):
    trip = journey()  # the baseline was never answered
    FollowUp.objects.filter(plan=trip.injection.plan, timepoint=Timepoint.BASELINE).update(status=FollowUpStatus.MISSED)
    thanks = _send(client, trip.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        text = _text(client.get(_scores_url(thanks)))
    assert "Before your injection: We did not get answers this time." in text
    # One number only: said as it is, with no "went from".
    assert "Your knee pain score was 50 out of 100 about 1 month after your injection (higher is better)." in text
    assert "went from" not in text


def test_a_part_not_scorable_under_the_missing_item_rule_says_so(client, course):
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT, **NO_SPORT)
    submission = course.follow_up(Timepoint.ONE_MONTH).submission
    assert submission.koos_sport_rec is None
    assert submission.koos_pain is not None
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        text = _text(client.get(_scores_url(thanks)))
    assert (
        "About 1 month after your injection: could not be worked out: too many questions in this part were left "
        "empty" in text
    )
    assert "Your sport and leisure score was 50 out of 100 before your injection (higher is better)." in text


def test_a_patient_treated_in_both_knees_sees_only_the_knee_of_this_link(client, journey, clinic):
    patient = PatientFactory(clinic=clinic)
    left = journey(patient=patient)
    left.baseline()
    right = journey(patient=patient, knee=Knee.RIGHT)
    right.baseline(**{f"KOOS.P{i}": "4" for i in range(1, 10)}, **{"VAS.pain": "95"})  # KOOS Pain 0
    right.submit(Timepoint.ONE_MONTH, ONE_MONTH_AT, **{f"KOOS.P{i}": "3" for i in range(1, 10)})
    thanks = _send(client, left.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT, **BETTER_PAIN)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        text = _text(client.get(_scores_url(thanks)))
    assert "your left knee, injected on" in text
    assert "right knee" not in text
    assert "went from 50 (before your injection) to 75" in text
    assert not re.search(r"\b(0|25|95) out of 100\b", text)  # none of the right knee's numbers


@pytest.fixture
def sent(client, course):
    """The 1-month answers just sent: (thanks response, the scores page's address)."""
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT)
    return thanks, _scores_url(thanks)


def test_the_page_is_private_and_carries_no_link_token(client, sent):
    _, url = sent
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        response = client.get(url)
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert urlparse(url).path == SCORES


def test_an_edited_or_forged_view_token_is_refused_and_counted(client, sent, course, caplog):
    _, url = sent
    value = parse_qs(urlparse(url).query)["s"][0]
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        for forged in (value[:-2] + "xx", "", "nonsense", signing.dumps({"f": 1, "s": 1}, salt="another-salt")):
            response = client.get(SCORES, {"s": forged})
            assert response.status_code == 404
            assert "This page is no longer available" in _text(response)
            assert "knee pain" not in _text(response)
    assert "Own-scores page refused" in caplog.text


def test_a_token_for_one_follow_up_never_shows_another(client, sent, course, clinic):
    """Even a validly signed view naming a follow-up with another follow-up's submission is refused."""
    other = course.follow_up(Timepoint.BASELINE).submission
    mine = course.follow_up(Timepoint.ONE_MONTH).submission
    crossed = signing.dumps({"f": mine.follow_up_id, "s": other.pk, "l": "en-gb"}, salt=OWN_SCORES_SALT)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        response = client.get(SCORES, {"s": crossed})
    assert response.status_code == 404


def test_the_view_expires_and_a_fresh_signature_cannot_extend_it(client, sent, course):
    _, url = sent
    with time_machine.travel(ONE_MONTH_AT + dt.timedelta(minutes=59), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(ONE_MONTH_AT + dt.timedelta(minutes=61), tick=False):
        assert client.get(url).status_code == 410
        # Signed now (as a reload of the thanks page would), for answers sent over an hour ago: still gone.
        fresh = own_scores_token(course.follow_up(Timepoint.ONE_MONTH).submission)
        response = client.get(SCORES, {"s": fresh})
    assert response.status_code == 410
    assert "only be seen for a short time" in _text(response)


def test_a_clinic_that_switches_it_off_offers_nothing(client, course, clinic):
    clinic.show_own_scores = False
    clinic.save()
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT)
    assert 'data-testid="own-scores-link"' not in thanks.content.decode()
    assert own_scores.offered_to(course.patient) is False
    token = own_scores_token(course.follow_up(Timepoint.ONE_MONTH).submission)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        assert client.get(SCORES, {"s": token}).status_code == 404


def test_not_offered_on_a_clinic_tablet_after_a_safety_check_or_beside_urgent_advice(course):
    one_month = FollowUp.objects.select_related("patient__clinic").get(pk=course.follow_up(Timepoint.ONE_MONTH).pk)
    assert own_scores.offered_after(one_month, on_tablet=False, urgent=False) is True
    assert own_scores.offered_after(one_month, on_tablet=True, urgent=False) is False
    assert own_scores.offered_after(one_month, on_tablet=False, urgent=True) is False
    day_3 = course.follow_up(Timepoint.DAY_3)
    assert own_scores.offered_after(day_3, on_tablet=False, urgent=False) is False


def test_the_page_reads_a_bounded_number_of_queries(client, course, django_assert_max_num_queries):
    course.submit(Timepoint.ONE_MONTH, ONE_MONTH_AT)
    six = course.follow_up(Timepoint.SIX_MONTHS)
    when = dt.datetime.combine(six.opens_on, dt.time(10), tzinfo=LONDON)
    thanks = _send(client, six, when)
    url = _scores_url(thanks)
    with time_machine.travel(when, tick=False), django_assert_max_num_queries(4):
        assert client.get(url).status_code == 200


def test_a_welsh_patient_reads_their_scores_in_welsh(client, journey, clinic):
    trip = journey(patient=PatientFactory(clinic=clinic, preferred_language="cy"))
    trip.baseline(**{"VAS.pain": "60"})
    thanks = _send(client, trip.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT, **BETTER_PAIN, **{"VAS.pain": "20"})
    assert "Gweld sut mae eich sgorau wedi newid" in _text(thanks)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        response = client.get(_scores_url(thanks))
    html, text = response.content.decode(), _text(response)
    assert '<html lang="cy"' in html
    assert response["Content-Language"] == "cy"
    assert "Sut mae eich sgorau wedi newid" in text
    assert "pen-glin chwith" in text
    assert "yn is yn well: mae 0 yn golygu dim poen" in text  # the slider, the right way round, in Welsh
    assert "higher is better" not in text
    assert "How your scores have changed" not in text
    # The switch keeps the view token: English is one tap away, with the same scores.
    switch = re.search(r'href="([^"]+)" lang="en-gb"', html)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        english = _text(client.get(SCORES + unescape(switch[1])))
    assert "Your knee pain score went from 50" in english


def test_the_clinic_setting_is_on_by_default_and_changed_in_the_admin_with_a_log(client, admin_user, clinic):
    assert clinic.show_own_scores is True
    client.force_login(admin_user)
    url = reverse("admin:registry_clinic_change", args=[clinic.pk])
    form = client.get(url).content.decode()
    assert 'name="show_own_scores"' in form
    data = {
        "name": clinic.name,
        "time_zone": clinic.time_zone,
        "contact_email": "",
        "phone": "",
        "country": "GB",
        "default_channels": clinic.default_channels,
        "default_language": clinic.default_language,
    }
    assert client.post(url, data).status_code == 302  # the box left unticked: off
    clinic.refresh_from_db()
    assert clinic.show_own_scores is False
    entry = LogEntry.objects.get(object_id=str(clinic.pk))
    assert "Show own scores" in entry.get_change_message()


def test_every_plain_measure_reads_the_way_its_measure_runs():
    for plain in own_scores.PLAIN_MEASURES:
        expected = own_scores.HIGHER_IS_BETTER if plain.measure.higher_is_better else own_scores.LOWER_IS_BETTER
        assert plain.reading is expected, plain.measure.name
    assert [p.measure.name for p in own_scores.PLAIN_MEASURES] == [
        "koos.pain",
        "koos.symptoms",
        "koos.adl",
        "koos.sport_rec",
        "koos.qol",
        "oks.total",
        "vas.pain",
    ]


def test_baseline_answered_long_ago_still_shows_with_the_new_answers(client, course):
    """The baseline's own view token would long have expired; the page after the 1-month answers shows it."""
    assert ONE_MONTH_AT - dt.timedelta(days=7) > BASELINE_AT
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT)
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        assert "Before your injection: answered." in _text(client.get(_scores_url(thanks)))


def test_forged_view_tokens_are_counted_in_their_own_bucket(client, settings, course):
    settings.OUTCOMES_LINK_RATE_LIMIT = (3, 600)
    for _ in range(3):
        assert client.get(SCORES, {"s": "forged"}).status_code == 404
    assert client.get(SCORES, {"s": "forged"}).status_code == 429
    # The patient's questionnaire links are not blocked by it.
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        token = link_create(follow_up=course.follow_up(Timepoint.ONE_MONTH))
        assert client.get(q_url(token)).status_code == 200


def test_a_language_picked_on_the_thanks_page_carries_on_to_the_scores(client, course):
    thanks = _send(client, course.follow_up(Timepoint.ONE_MONTH), ONE_MONTH_AT)
    switch = re.search(r'href="([^"]+)" lang="cy"', thanks.content.decode())
    with time_machine.travel(ONE_MONTH_AT, tick=False):
        welsh_thanks = client.get("/q/thanks/" + unescape(switch[1]))
        assert "Eich atebion am eich pen-glin chwith" in _text(welsh_thanks)  # the switch kept the thanks' content
        response = client.get(_scores_url(welsh_thanks))
    assert response["Content-Language"] == "cy"
    assert "Sut mae eich sgorau wedi newid" in _text(response)

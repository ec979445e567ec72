"""The pages a patient reaches from an email, on a phone (390x844), in every state a link can be in: the year-of-
birth check (and its error), the questionnaire, the thanks page, a link already used, closed, not open yet, no
longer needed, locked or unknown, a form sent after it expired, an address that does not exist; and the
unsubscribe page asking, done, already done and unknown. Each must pass axe-core, fit the screen and show nothing
drawn over its neighbour (tests/e2e/checks.py). Screenshots: var/e2e-screenshots/patient-*.jpg."""

import datetime as dt
import secrets

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import UnsubscribeToken, hash_unsubscribe_token
from outcomes.models import FollowUp, FollowUpStatus, QuestionnaireLink, Timepoint
from outcomes.services import link_create, questionnaire_submit
from tests.e2e.checks import page_problems
from tests.e2e.conftest import PHONE
from tests.factories import PatientFactory, make_injection, questionnaire_data


@pytest.fixture
def links(clinic, clinician):
    """A link in each state: an injection 33 days ago has its baseline closed, its 1-month questionnaire open
    and its 6-month one not open yet."""
    clinic.link_requires_year_of_birth = True
    clinic.save()
    injected_on = timezone.localdate() - dt.timedelta(days=33)

    def follow_ups(patient):
        injection = make_injection(patient, clinician, injected_on=injected_on)
        return {fu.timepoint: fu for fu in FollowUp.objects.filter(plan=injection.plan)}

    first = follow_ups(PatientFactory(clinic=clinic, year_of_birth=1956))
    answered = follow_ups(PatientFactory(clinic=clinic))[Timepoint.ONE_MONTH]
    questionnaire_submit(follow_up=answered, data=questionnaire_data(answered))
    cancelled = follow_ups(PatientFactory(clinic=clinic))[Timepoint.ONE_MONTH]
    FollowUp.objects.filter(pk=cancelled.pk).update(status=FollowUpStatus.CANCELLED)
    locked = follow_ups(PatientFactory(clinic=clinic))[Timepoint.ONE_MONTH]
    locked_token = link_create(follow_up=locked)
    QuestionnaireLink.objects.filter(follow_up=locked).update(locked_at=timezone.now())
    return {
        "open": link_create(follow_up=first[Timepoint.ONE_MONTH]),
        "expired": link_create(follow_up=first[Timepoint.BASELINE]),
        "not-yet-open": link_create(follow_up=first[Timepoint.SIX_MONTHS]),
        "used": link_create(follow_up=answered),
        "cancelled": link_create(follow_up=cancelled),
        "locked": locked_token,
        "unknown": secrets.token_urlsafe(32),
    }


@pytest.fixture
def phone(unwatched_page):
    return unwatched_page(viewport=PHONE, is_mobile=True, has_touch=True)


def look(page, name: str, failures: list[str]):
    failures.extend(f"{name}: {p}" for p in page_problems(page, f"patient-{name}"))


def test_every_state_of_a_questionnaire_link_on_a_phone(phone, live_server, links):
    failures = []
    for state in ("expired", "not-yet-open", "used", "cancelled", "locked", "unknown"):
        response = phone.goto(f"{live_server.url}/q/{links[state]}/")
        assert response.status in (403, 404, 409, 410), state
        look(phone, f"link-{state}", failures)

    url = f"{live_server.url}/q/{links['open']}/"
    phone.goto(url)
    expect(phone.get_by_label("Your year of birth")).to_be_visible()
    look(phone, "check", failures)
    phone.get_by_label("Your year of birth").fill("1957")
    phone.get_by_role("button", name="Continue").click()
    expect(phone.locator(".field-error")).to_be_visible()
    look(phone, "check-wrong-year", failures)

    # The form was open too long: its cookie is gone when it is sent.
    phone.context.clear_cookies()
    phone.get_by_label("Your year of birth").fill("1956")
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("This page was open for too long")
    look(phone, "expired-form", failures)

    phone.goto(url)
    phone.get_by_label("Your year of birth").fill("1956")
    phone.get_by_role("button", name="Continue").click()
    expect(phone.locator("#q-progress-label")).to_have_text("Section 1 of 6")
    look(phone, "questionnaire-section-1", failures)
    phone.get_by_role("button", name="Next").filter(visible=True).click()
    expect(phone.locator("#q-progress-label")).to_have_text("Section 2 of 6")
    look(phone, "questionnaire-section-2", failures)

    phone.goto(f"{live_server.url}/q/thanks/")
    look(phone, "thanks", failures)
    phone.goto(f"{live_server.url}/q/{links['open']}/no-such-page/")
    look(phone, "not-found", failures)
    assert not failures, "\n".join(failures)


def test_every_state_of_the_unsubscribe_page_on_a_phone(phone, live_server, patient):
    token = secrets.token_urlsafe(32)
    UnsubscribeToken.objects.create(patient=patient, token_hash=hash_unsubscribe_token(token))
    failures = []
    phone.goto(f"{live_server.url}/unsubscribe/{token}/")
    look(phone, "unsubscribe-ask", failures)
    phone.get_by_role("button", name="Stop these emails").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("You will not get any more emails")
    look(phone, "unsubscribe-done", failures)
    phone.goto(f"{live_server.url}/unsubscribe/{token}/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("You have already unsubscribed")
    look(phone, "unsubscribe-already", failures)
    phone.goto(f"{live_server.url}/unsubscribe/{secrets.token_urlsafe(32)}/")
    look(phone, "unsubscribe-unknown", failures)
    assert not failures, "\n".join(failures)

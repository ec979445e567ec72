"""The demo's history is realistic: nothing is dated in the future (consent, creation, status changes, audit
rows), showcase injections look recorded at the visit (so their baselines were collectable and are not "not
collected"), and status changes are stamped when they would have happened, so the attention page's "missed this
week" lists only follow-ups that closed this week."""

import datetime as dt
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from demo.management.commands import seed_demo
from notifications.models import MessageStatus, OutboundMessage
from outcomes.models import FollowUp, FollowUpStatus, Timepoint
from registry.models import Injection

ANY = models.Q(pk__isnull=False)
# Dates that may lie ahead: planned injections, questionnaire windows still to come and emails queued for them.
MAY_BE_AHEAD = {
    ("registry.Injection", "injected_on"): models.Q(status="planned"),
    ("registry.HistoricalInjection", "injected_on"): models.Q(status="planned"),
    ("outcomes.FollowUp", "injected_on"): ANY,  # a planned first injection
    ("outcomes.HistoricalFollowUp", "injected_on"): ANY,
    ("outcomes.FollowUp", "opens_on"): ANY,
    ("outcomes.FollowUp", "due_on"): ANY,
    ("outcomes.FollowUp", "closes_on"): ANY,
    ("outcomes.HistoricalFollowUp", "opens_on"): ANY,
    ("outcomes.HistoricalFollowUp", "due_on"): ANY,
    ("outcomes.HistoricalFollowUp", "closes_on"): ANY,
    ("notifications.OutboundMessage", "scheduled_for"): models.Q(status="pending"),
    # The patient's copy link works for PATIENT_COPY_LINK_DAYS from its issue.
    ("consultations.PatientCopyLink", "expires_at"): ANY,
    ("consultations.HistoricalPatientCopyLink", "expires_at"): ANY,
    # The outcome summary's copy of those due dates (built when the demo records its fallback reviews).
    **{("outcomes.PlanOutcome", f"{t}_due"): ANY for t in ("b", "m1", "m6", "m12", "m24")},
}


@pytest.fixture
def seeded(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAR_DIR = tmp_path
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    call_command("seed_demo", "--injections", "80", stdout=io.StringIO())
    return timezone.now()


@pytest.mark.django_db(transaction=True)
def test_no_date_in_the_demo_is_in_the_future(seeded):
    now, today = seeded + dt.timedelta(seconds=1), timezone.localdate()
    ahead = []
    for model in apps.get_models():
        label = model._meta.label
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateTimeField):
                future = model.objects.filter(**{f"{field.name}__gt": now})
            elif isinstance(field, models.DateField):
                future = model.objects.filter(**{f"{field.name}__gt": today})
            else:
                continue
            allowed = MAY_BE_AHEAD.get((label, field.name))
            if allowed is not None:  # only rows matching `allowed` may be ahead
                future = future.exclude(allowed)
            if count := future.count():
                ahead.append((label, field.name, count))
    assert ahead == [], ahead


@pytest.mark.django_db(transaction=True)
def test_showcase_history_is_stamped_when_it_happened(seeded):
    showcase = FollowUp.objects.filter(patient__full_name__in=seed_demo.NAMES)
    # Recorded at (or up to a week before) the visit: every baseline could be collected.
    assert not showcase.filter(status=FollowUpStatus.NOT_COLLECTED).exists()
    assert showcase.filter(timepoint=Timepoint.BASELINE, status=FollowUpStatus.MISSED).exists()
    for follow_up in showcase.filter(status=FollowUpStatus.MISSED):
        assert follow_up.status_changed_at.date() == follow_up.closes_on + dt.timedelta(days=1) or (
            follow_up.status_changed_at.date() == follow_up.closes_on  # 00:05 London is 23:05 UTC in summer
        )
    for injection in Injection.objects.filter(patient__full_name__in=seed_demo.NAMES, number_in_plan=1):
        assert injection.created_at.date() <= injection.injected_on
        assert injection.patient.consent_on <= injection.created_at.date()
        assert injection.history.earliest("history_date").history_date == injection.created_at
    # Nothing queued for windows that closed long ago.
    assert not OutboundMessage.objects.filter(
        follow_up__in=showcase.filter(status=FollowUpStatus.MISSED), status=MessageStatus.PENDING
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_missed_this_week_on_the_demo_counts_only_what_closed_this_week(seeded, client):
    from django.contrib.auth import get_user_model

    lead = get_user_model().objects.get(username="lead")
    client.force_login(lead)
    html = client.get("/attention/").content.decode()
    section = html.split('id="missed"', 1)[1].split("</section>", 1)[0]
    week_ago = timezone.localdate() - dt.timedelta(days=7)
    recent = FollowUp.objects.filter(status=FollowUpStatus.MISSED, closes_on__gte=week_ago).count()
    assert f'<span class="badge">{recent}</span>' in section
    stamped_this_week = FollowUp.objects.filter(
        status=FollowUpStatus.MISSED, status_changed_at__gte=timezone.now() - dt.timedelta(days=7)
    ).count()
    assert stamped_this_week <= recent + 1  # the demo stamps status changes when they happened

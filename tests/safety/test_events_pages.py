"""Adverse-event pages: recording (directly and from a flag), the event with its audit trail, correction with a
reason (a stale form is refused), the list with serious events first; auditors 403 on writes, outsiders 404."""

import datetime as dt

import pytest
from django.urls import reverse

from safety.choices import FlagRule, FlagStatus
from safety.services import flag_raise
from tests.safety.ae_support import record, record_serious

pytestmark = pytest.mark.django_db


def form_data(injection, **overrides):
    data = {
        "injections": [injection.pk],
        "source": "clinician",
        "onset_on": "2026-03-05",
        "category": "effusion",
        "description": "Swollen knee; settled.",
        "severity": "2",
        "causality_product": "probable",
        "causality_procedure": "probable",
        "relatedness": "injection",
        "expectedness": "expected",
        "action_taken": "conservative",
        "outcome": "recovered",
        "outcome_on": "2026-03-12",
    }
    data.update(overrides)
    return data


def test_record_directly_from_the_patient(client, clinician, injection):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    assert client.get(url).status_code == 200
    response = client.post(url, form_data(injection, serious_hospitalisation="on"))
    assert response.status_code == 302
    event = injection.adverse_events.get()
    assert event.is_serious
    page = client.get(response["Location"])
    assert b"Serious" in page.content
    assert b"Audit trail" in page.content


def test_model_errors_show_on_the_form(client, clinician, injection):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    response = client.post(url, form_data(injection, severity="5"))
    assert response.status_code == 400
    assert "A grade 5 event" in response.content.decode()


def test_correction_with_reason_and_a_stale_form(client, clinician, lead, injection):
    event = record(clinician, injection)
    url = reverse("safety:event-correct", args=[event.pk])
    client.force_login(clinician)
    assert client.get(url).status_code == 200
    no_reason = client.post(url, form_data(injection, severity="3", version="1"))
    assert no_reason.status_code == 400
    ok = client.post(url, form_data(injection, severity="3", version="1", reason="Reassessed at review"))
    assert ok.status_code == 302
    client.force_login(lead)
    stale = client.post(url, form_data(injection, severity="1", version="1", reason="Old tab"))
    assert stale.status_code == 409
    assert "Someone else changed this adverse event" in stale.content.decode()
    event.refresh_from_db()
    assert (event.severity, event.version) == (3, 2)
    detail = client.get(reverse("safety:event-detail", args=[event.pk])).content.decode()
    assert "Reassessed at review" in detail
    assert "<del>2</del> → <ins>3</ins>" in detail


def test_list_shows_serious_events_first(client, clinician, injection):
    mild = record(clinician, injection)
    serious = record_serious(clinician, injection, onset_on=dt.date(2026, 3, 3))
    client.force_login(clinician)
    content = client.get(reverse("safety:event-list")).content.decode()
    assert content.index(f'data-event="{serious.pk}"') < content.index(f'data-event="{mild.pk}"')
    assert "event-serious" in content
    filtered = client.get(reverse("safety:event-list"), {"serious": "false"}).content.decode()
    assert f'data-event="{serious.pk}"' not in filtered


@pytest.fixture
def flag(journey):
    submission = journey().one_month(**{"SAFETY.swelling": "yes"})
    flag, _ = flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    return flag


def test_record_from_the_flag_page(client, clinician, flag):
    client.force_login(clinician)
    page = client.get(reverse("safety:flag-detail", args=[flag.pk])).content.decode()
    url = reverse("safety:flag-record-event", args=[flag.pk])
    assert url in page
    injection = flag.follow_up.plan.injections.get()
    response = client.post(url, form_data(injection, onset_on="2026-03-28", outcome_on="2026-04-01", source="rule"))
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == FlagStatus.EVENT_RECORDED
    assert flag.adverse_events.get().source == "rule"


def test_auditors_get_403_on_every_write_page(client, auditor, clinician, injection, flag):
    event = record(clinician, injection)
    client.force_login(auditor)
    new = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    for url in (
        new,
        reverse("safety:event-correct", args=[event.pk]),
        reverse("safety:flag-record-event", args=[flag.pk]),
    ):
        assert client.get(url).status_code == 403, url
        assert client.post(url, form_data(injection)).status_code == 403, url
    assert client.get(reverse("safety:event-detail", args=[event.pk])).status_code == 200
    assert client.get(reverse("safety:event-list")).status_code == 200
    assert client.get(reverse("safety:event-cioms", args=[event.pk])).status_code == 200


def test_outsiders_get_404_on_every_event_url(client, outsider, clinician, injection, flag):
    event = record_serious(clinician, injection)
    client.force_login(outsider)
    for url in (
        reverse("safety:event-new") + f"?patient={injection.patient.registry_number}",
        reverse("safety:event-detail", args=[event.pk]),
        reverse("safety:event-correct", args=[event.pk]),
        reverse("safety:event-cioms", args=[event.pk]),
        reverse("safety:flag-record-event", args=[flag.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert f'data-event="{event.pk}"' not in client.get(reverse("safety:event-list")).content.decode()


def test_admin_is_read_only_and_never_deletes(client, admin_user, clinician, injection):
    from django.contrib import admin

    from safety.models import AdverseEvent

    event = record(clinician, injection)
    model_admin = admin.site._registry[AdverseEvent]
    request = type("R", (), {"user": admin_user})()
    assert not model_admin.has_delete_permission(request, event)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_add_permission(request)
    client.force_login(admin_user)
    assert client.get(reverse("admin:safety_adverseevent_change", args=[event.pk])).status_code == 200
    assert client.post(reverse("admin:safety_adverseevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AdverseEvent.objects.filter(pk=event.pk).exists()

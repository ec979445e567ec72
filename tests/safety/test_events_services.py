"""Recording and correcting adverse events: the history keeps every version with who and why, optimistic
concurrency refuses a stale edit, a serious event emails the clinic lead once, and a flag becomes "event recorded"."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import MessageKind, OutboundMessage
from registry.choices import Role
from safety import services
from safety.choices import FlagRule, FlagStatus
from safety.selectors import event_trail
from safety.services import flag_raise
from tests.factories import staff
from tests.safety.ae_support import event_data, record, record_serious

pytestmark = pytest.mark.django_db


def test_correction_keeps_every_version_with_reason_who_and_before_after(clinician, lead, injection):
    event = record(clinician, injection)
    corrected = services.adverse_event_correct(
        event=event,
        by=lead,
        data={"severity": 3, "causality_product": "possible", "causality_procedure": "possible"},
        reason="Reassessed at the 2-week review",
        expected_version=1,
    )
    assert corrected.version == 2
    assert corrected.assessed_by == lead
    latest = corrected.history.order_by("-history_date", "-history_id").first()
    assert latest.history_user == lead
    assert latest.history_change_reason == "Reassessed at the 2-week review"
    trail = event_trail(corrected)
    assert trail[-1].reason == "Reassessed at the 2-week review"
    changes = {c.field: (c.before, c.after) for c in trail[-1].changes}
    assert changes["severity"] == ("2", "3")
    assert changes["causality_product"] == ("probable", "possible")
    assert corrected.causality == "possible"  # the derived stronger of the two follows
    assert trail[0].kind == "recorded"
    assert trail[0].who == clinician.get_username()


def test_correction_needs_a_reason(clinician, injection):
    event = record(clinician, injection)
    with pytest.raises(ValidationError) as caught:
        services.adverse_event_correct(event=event, by=clinician, data={"severity": 3}, reason=" ", expected_version=1)
    assert "reason" in caught.value.message_dict
    event.refresh_from_db()
    assert event.severity == 2


def test_a_stale_version_is_refused_and_nothing_is_written(clinician, lead, injection):
    event = record(clinician, injection)
    services.adverse_event_correct(event=event, by=lead, data={"severity": 3}, reason="First", expected_version=1)
    with pytest.raises(services.VersionConflict) as caught:
        services.adverse_event_correct(
            event=event, by=clinician, data={"severity": 1}, reason="Second, from an old form", expected_version=1
        )
    assert caught.value.current_version == 2
    assert "Someone else changed" in str(caught.value)
    event.refresh_from_db()
    assert (event.severity, event.version) == (3, 2)


def test_auditors_cannot_record_or_correct(auditor, clinician, injection):
    with pytest.raises(PermissionDenied):
        services.adverse_event_record(by=auditor, data=event_data(injection))
    event = record(clinician, injection)
    with pytest.raises(PermissionDenied):
        services.adverse_event_correct(event=event, by=auditor, data={"severity": 3}, reason="x", expected_version=1)


def test_a_serious_event_queues_one_urgent_email_to_the_clinic_lead(
    clinician, lead, injection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = record_serious(clinician, injection)
    messages = list(OutboundMessage.objects.filter(context__adverse_event_id=event.pk))
    assert len(messages) == 1
    assert messages[0].recipient_user == lead
    assert messages[0].kind == MessageKind.SERIOUS_EVENT
    assert messages[0].dedupe_key == f"adverse_event:{event.pk}:user:{lead.pk}"
    # A correction of an already serious event sends nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_correct(
            event=event,
            by=clinician,
            data={"serious_life_threatening": True},
            reason="More information",
            expected_version=1,
        )
    assert OutboundMessage.objects.filter(context__adverse_event_id=event.pk).count() == 1


def test_a_non_serious_event_emails_nobody_until_corrected_to_serious(
    clinician, lead, injection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = record(clinician, injection)
    assert not OutboundMessage.objects.filter(context__adverse_event_id=event.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_correct(
            event=event, by=clinician, data={"serious_hospitalisation": True}, reason="Admitted", expected_version=1
        )
    assert OutboundMessage.objects.filter(context__adverse_event_id=event.pk, recipient_user=lead).count() == 1


def test_a_serious_event_whose_email_was_never_written_is_caught_up_once(clinician, lead, injection):
    """The email rows are written after the event commits; a crash in between must not lose the lead's notice:
    the safety net (beat, every 5 minutes) writes it, once."""
    from notifications.services import serious_events_catch_up
    from notifications.tasks import safety_notices_catch_up

    # Outside django_capture_on_commit_callbacks the on-commit announcement never runs: the crash.
    event = record_serious(clinician, injection)
    calm = record(clinician, injection)
    assert not OutboundMessage.objects.filter(context__adverse_event_id=event.pk).exists()

    safety_notices_catch_up()

    messages = list(OutboundMessage.objects.filter(context__adverse_event_id=event.pk))
    assert [m.recipient_user for m in messages] == [lead]
    assert not OutboundMessage.objects.filter(context__adverse_event_id=calm.pk).exists()
    assert serious_events_catch_up() == 0  # already notified: nothing twice
    # Long past: an old serious event is history, not news.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    OutboundMessage.objects.filter(context__adverse_event_id=event.pk).delete()
    assert serious_events_catch_up(now=later) == 0


def test_the_email_links_to_the_event_and_carries_no_clinical_detail(
    clinician, lead, injection, django_capture_on_commit_callbacks
):
    from notifications import emails

    with django_capture_on_commit_callbacks(execute=True):
        event = record_serious(clinician, injection)
    message = OutboundMessage.objects.get(context__adverse_event_id=event.pk)
    email = emails.build(message, to=[lead.email])
    assert f"/adverse-events/{event.pk}/" in email.body
    assert "septic" not in email.body.lower()
    assert injection.patient.full_name not in email.body


@pytest.fixture
def flag(journey):
    j = journey()
    submission = j.one_month(**{"SAFETY.swelling": "yes"})
    flag, _ = flag_raise(submission=submission, rule=FlagRule.SAFETY_SWELLING, urgent=False, values={})
    return flag


def test_recording_from_a_flag_sets_the_flag_to_event_recorded(flag, clinician):
    injection = flag.follow_up.plan.injections.get()
    event = services.flag_record_event(
        flag=flag,
        by=clinician,
        data=event_data(injection, onset_on=dt.date(2026, 3, 28), outcome_on=dt.date(2026, 4, 2)),
    )
    flag.refresh_from_db()
    assert flag.status == FlagStatus.EVENT_RECORDED
    assert flag.reviewed_by == clinician
    assert event.flag == flag
    assert event.source == "clinician"  # given explicitly; from a flag the default is "rule"
    with pytest.raises(ValidationError):
        services.flag_record_event(flag=flag, by=clinician, data=event_data(injection))


def test_a_flag_of_another_patient_is_refused(flag, clinician, injection):
    with pytest.raises(ValidationError) as caught:
        services.flag_record_event(flag=flag, by=clinician, data=event_data(injection))
    assert "patient" in caught.value.message_dict
    flag.refresh_from_db()
    assert flag.status == FlagStatus.OPEN


def test_no_lead_falls_back_to_clinical_staff(other_clinic, django_capture_on_commit_callbacks):
    from tests.factories import PatientFactory, make_injection

    doctor = staff(other_clinic, Role.CLINICIAN)
    injection = make_injection(PatientFactory(clinic=other_clinic), doctor)
    with django_capture_on_commit_callbacks(execute=True):
        event = record_serious(doctor, injection)
    assert list(
        OutboundMessage.objects.filter(context__adverse_event_id=event.pk).values_list("recipient_user", flat=True)
    ) == [doctor.pk]

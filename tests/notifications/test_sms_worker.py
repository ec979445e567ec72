"""Texts and emails through a real Celery worker and a fake Twilio server: a patient on both channels gets exactly
one email and one text of each kind due, reminders on both channels stop when the questionnaire is completed,
and a number opted out of texts gets no more texts while the emails go on."""

import datetime as dt

import time_machine
from django.core import mail

from notifications import tasks
from notifications.models import Channel, MessageKind, MessageStatus, OutboundMessage
from outcomes.models import Timepoint
from registry.services import patient_unsubscribe_sms
from tests.factories import PatientFactory, make_injection
from tests.notifications.fake_sms_providers import running
from tests.notifications.test_worker import celery_worker_live, mail_to, wait_for, when_unlocked  # noqa: F401
from tests.support.answers import complete
from tests.support.clock import at


def sent(follow_up, kind, channel) -> int:
    return OutboundMessage.objects.filter(
        follow_up=follow_up, kind=kind, channel=channel, status=MessageStatus.SENT
    ).count()


def test_both_channels_through_a_real_worker(celery_worker_live, clinic, clinician, settings):  # noqa: F811
    with running("twilio") as twilio:
        settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "2" * 32, "token"
        settings.TWILIO_FROM, settings.TWILIO_BASE_URL = "+447700900999", twilio.url

        def texts_to(number: str) -> int:
            return sum(1 for r in twilio.ok() if r.to == number)

        with time_machine.travel(at(2026, 3, 2, 10), tick=True) as clock:
            finishes = PatientFactory(clinic=clinic, phone="+447700900101", consent_sms_contact=True)
            stops = PatientFactory(clinic=clinic, phone="+447700900102", consent_sms_contact=True)
            plans = {p: make_injection(p, clinician, injected_on=dt.date(2026, 3, 2)).plan for p in (finishes, stops)}
            month = {p: plan.follow_ups.get(timepoint=Timepoint.ONE_MONTH) for p, plan in plans.items()}

            clock.move_to(at(2026, 3, 30, 9, 30))  # the one-month windows open: invitations by email only
            tasks.followups_sweep.delay()
            wait_for(
                lambda: all(sent(f, MessageKind.INVITATION, Channel.EMAIL) == 1 for f in month.values()),
                "the invitations",
                beat=True,
            )
            assert not any(sent(f, MessageKind.INVITATION, Channel.SMS) for f in month.values())

            clock.move_to(at(2026, 4, 6, 10))  # day 7: the second email reminder and the first text reminder
            tasks.followups_sweep.delay()
            tasks.followups_sweep.delay()  # a duplicate beat tick
            wait_for(
                lambda: all(
                    sent(f, MessageKind.REMINDER_1, Channel.SMS) == 1 and sent(f, MessageKind.REMINDER_2, Channel.EMAIL)
                    for f in month.values()
                ),
                "the day-7 reminders",
                beat=True,
            )

            when_unlocked(complete, month[finishes])  # every channel's reminders stop
            when_unlocked(patient_unsubscribe_sms, patient=stops)  # replied STOP: texts stop, emails go on
            wait_for(
                lambda: not month[finishes].messages.filter(status=MessageStatus.PENDING).exists(),
                "the completed follow-up's reminders cancelled",
            )

            clock.move_to(at(2026, 4, 11, 10))  # day 12: the second text reminder is due
            tasks.followups_sweep.delay()
            text_2 = OutboundMessage.objects.get(
                follow_up=month[stops], kind=MessageKind.REMINDER_2, channel=Channel.SMS
            )
            wait_for(
                lambda: OutboundMessage.objects.get(pk=text_2.pk).status == MessageStatus.CANCELLED,
                "the opted-out text cancelled",
                beat=True,
            )
            clock.move_to(at(2026, 4, 20, 10))  # the final email reminder still goes to the one who stopped texts
            tasks.followups_sweep.delay()
            wait_for(
                lambda: sent(month[stops], MessageKind.FINAL_REMINDER, Channel.EMAIL) == 1, "final email", beat=True
            )

        assert OutboundMessage.objects.get(pk=text_2.pk).cancelled_reason == "Patient opted out of text messages"
        for patient in (finishes, stops):
            follow_up = month[patient]
            for kind in (MessageKind.INVITATION, MessageKind.REMINDER_1, MessageKind.REMINDER_2):
                assert sent(follow_up, kind, Channel.EMAIL) == 1
            assert sent(follow_up, MessageKind.REMINDER_1, Channel.SMS) == 1
            assert sent(follow_up, MessageKind.REMINDER_2, Channel.SMS) == 0
            assert texts_to(patient.phone) == 1  # exactly one text each, never a duplicate
        assert sent(month[finishes], MessageKind.FINAL_REMINDER, Channel.EMAIL) == 0
        # Every email once: the baseline's invitation, then the month's invitation and three reminders for `stops`.
        month_emails = {
            p: OutboundMessage.objects.filter(follow_up=month[p], channel=Channel.EMAIL, status="sent")
            for p in (finishes, stops)
        }
        assert month_emails[finishes].count() == 3
        assert month_emails[stops].count() == 4
        assert (
            mail_to(stops.email)
            == OutboundMessage.objects.filter(patient=stops, channel=Channel.EMAIL, status=MessageStatus.SENT).count()
        )
        assert len(mail.outbox) >= 7

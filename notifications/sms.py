"""Text message transports, chosen by SMS_BACKEND. Each sends one text and says what a failure means in the terms
the outbox already uses (notifications.services.sending.TransportError): temporary (retried with backoff) or
permanent (the row fails at once), and for a permanent one whether the number itself is bad or the patient opted
out at the provider, so no further text is tried.

DevSmsBackend     into the dev mailbox (var/mailbox/), shown at /dev/mailbox/ as "Text message to +44..."
MailCatcherSmsBackend  staging: each text as an email "Text message to +44..." through Django's email connection
                  (EMAIL_URL, the compose file's mailpit), so texts show in the mail catcher beside the emails
NotifySmsBackend  GOV.UK Notify: NOTIFY_API_KEY, NOTIFY_SMS_TEMPLATE_ID (a template whose whole text is
                  ((body))), NOTIFY_BASE_URL (optional)
TwilioSmsBackend  Twilio: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM, TWILIO_BASE_URL (optional)
"""

from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

# A hand-over to a provider must fit well inside a claim's lease (NOTIFICATIONS_CLAIM_LEASE_SECONDS, >= 15 s).
SMS_TIMEOUT_SECONDS = 10


class SmsError(Exception):
    """A provider's refusal, classified. `problem` is "invalid_number" or "opted_out" when the number should not
    be tried again."""

    def __init__(self, message: str, *, permanent: bool, problem: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.problem = problem


class SmsBackend:
    # Whether the provider handles a "STOP" reply itself (then the text tells the patient they can).
    supports_stop = False

    def send_text(self, *, to: str, body: str, reference: str) -> str:
        """Send one text to an E.164 number; the provider's id for it. Raises SmsError."""
        raise NotImplementedError


def get_backend() -> SmsBackend:
    path = getattr(settings, "SMS_BACKEND", "notifications.sms.DevSmsBackend")
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"SMS_BACKEND {path!r} cannot be imported: {error}") from None
    return backend_class()


def _timeout_or_connection(error: BaseException) -> bool:
    return isinstance(error, requests.Timeout | requests.ConnectionError | TimeoutError | ConnectionError)


class DevSmsBackend(SmsBackend):
    """Writes each text into the dev mailbox as a message marked "Text message to <number>"."""

    supports_stop = True  # shown as a real provider would send it

    def send_text(self, *, to: str, body: str, reference: str) -> str:
        folder = Path(settings.MAILBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        message = EmailMessage()
        message["Subject"] = f"Text message to {to}"
        message["From"] = "Text messages <sms@dev.invalid>"
        message["To"] = "sms@dev.invalid"
        message["Date"] = formatdate(localtime=True)
        message["X-Text-Message-To"] = to
        message["X-Reference"] = reference
        message.set_content(body)
        name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{get_random_string(6)}.eml"
        (folder / name).write_bytes(message.as_bytes())
        return f"dev-{name}"


class MailCatcherSmsBackend(SmsBackend):
    """Staging (docker-compose.staging.yml): each text goes as a plain email "Text message to <number>" to
    <number>@texts.invalid through the registry's own email connection (EMAIL_URL, mailpit on staging), so a tester
    sees every text in the mail catcher, searchable by number. Reaches no phone, so never for production: a relay
    would try to deliver to .invalid and bounce."""

    supports_stop = True  # shown as a real provider would send it

    def send_text(self, *, to: str, body: str, reference: str) -> str:
        from django.core.mail import EmailMessage as DjangoEmail
        from django.core.mail import get_connection

        message = DjangoEmail(
            subject=f"Text message to {to}",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[f"{to.lstrip('+')}@texts.invalid"],
            headers={"X-Text-Message-To": to, "X-Reference": reference},
            connection=get_connection(fail_silently=False),
        )
        try:
            message.send()
        except Exception as error:
            raise SmsError(f"Mail catcher unreachable: {error.__class__.__name__}: {error}", permanent=False) from error
        return f"mailcatcher-{reference}"


class NotifySmsBackend(SmsBackend):
    """GOV.UK Notify. Notify handles no STOP replies; a patient stops texts through the clinic."""

    supports_stop = False

    def __init__(self):
        from notifications_python_client.notifications import NotificationsAPIClient

        self.template_id = getattr(settings, "NOTIFY_SMS_TEMPLATE_ID", "")
        api_key = getattr(settings, "NOTIFY_API_KEY", "")
        if not api_key or not self.template_id:
            raise ImproperlyConfigured("NotifySmsBackend needs NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID")
        base_url = getattr(settings, "NOTIFY_BASE_URL", "") or "https://api.notifications.service.gov.uk"
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=SMS_TIMEOUT_SECONDS)

    def send_text(self, *, to: str, body: str, reference: str) -> str:
        from notifications_python_client.errors import APIError

        try:
            response = self.client.send_sms_notification(
                phone_number=to, template_id=self.template_id, personalisation={"body": body}, reference=reference
            )
        except APIError as error:
            raise self.classify(error) from error
        return str(response.get("id", ""))

    @staticmethod
    def classify(error) -> SmsError:
        cause = error.__cause__
        if error.response is None or _timeout_or_connection(cause):
            return SmsError(f"Notify unreachable: {cause.__class__.__name__}", permanent=False)
        status, detail = error.status_code, error.message
        if isinstance(detail, list):
            detail = "; ".join(f"{e.get('error', '')}: {e.get('message', '')}" for e in detail if isinstance(e, dict))
        text = f"Notify replied {status}: {detail}"[:500]
        if status == 400 and "phone_number" in str(detail):
            return SmsError(text, permanent=True, problem="invalid_number")
        if status == 400:
            return SmsError(text, permanent=True)
        # 403 (our key), 429 (rate limit), 5xx (their outage): the message is fine, try again later.
        return SmsError(text, permanent=False)


# Twilio error codes (https://www.twilio.com/docs/api/errors) that say the number will never take a text.
TWILIO_INVALID_NUMBER = {21211, 21214, 21217, 21265, 21407, 21408, 21421, 21612, 21614}
TWILIO_OPTED_OUT = {21610}


def twilio_status_callback_url() -> str:
    """Where Twilio posts a text's status: the public address (SITE_URL), which its signature is computed over."""
    from django.urls import reverse

    return f"{settings.SITE_URL}{reverse('notifications:twilio-status')}"


class TwilioSmsBackend(SmsBackend):
    """Twilio. Its Advanced Opt-Out handles STOP replies; a later text to that number fails with 21610."""

    supports_stop = True

    def __init__(self):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        sid = getattr(settings, "TWILIO_ACCOUNT_SID", "")
        token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
        self.sender = getattr(settings, "TWILIO_FROM", "")
        if not (sid and token and self.sender):
            raise ImproperlyConfigured("TwilioSmsBackend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")
        base_url = (getattr(settings, "TWILIO_BASE_URL", "") or "").rstrip("/")

        class HttpClient(TwilioHttpClient):
            # TWILIO_BASE_URL: a stand-in for api.twilio.com (tests, a proxy).
            def request(self, method, url, *args, **kwargs):
                if base_url:
                    url = url.replace("https://api.twilio.com", base_url, 1)
                return super().request(method, url, *args, **kwargs)

        self.client = Client(sid, token, http_client=HttpClient(timeout=SMS_TIMEOUT_SECONDS))

    def send_text(self, *, to: str, body: str, reference: str) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            message = self.client.messages.create(
                to=to, from_=self.sender, body=body, status_callback=twilio_status_callback_url()
            )
        except TwilioRestException as error:
            raise self.classify(error) from error
        except (requests.RequestException, TwilioException, OSError) as error:
            raise SmsError(f"Twilio unreachable: {error.__class__.__name__}", permanent=False) from error
        return str(message.sid)

    @staticmethod
    def classify(error) -> SmsError:
        text = f"Twilio replied {error.status} (error {error.code}): {error.msg}"[:500]
        if error.code in TWILIO_INVALID_NUMBER:
            return SmsError(text, permanent=True, problem="invalid_number")
        if error.code in TWILIO_OPTED_OUT:
            return SmsError(text, permanent=True, problem="opted_out")
        if error.status == 429 or error.status >= 500 or error.status in (401, 403):
            return SmsError(text, permanent=False)
        return SmsError(text, permanent=error.status >= 400)

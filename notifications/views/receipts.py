"""Delivery receipts posted by the providers: GOV.UK Notify, Twilio, and the email service (through django-anymail).

Each is a machine talking to us: no session, no CSRF token (it cannot have one), POST only, a small body. Each
proves who it is in its provider's way, compared in constant time; one that does not is refused (401/403),
logged to the security log, and changes nothing. A receipt for a message we do not know is accepted and ignored
(logged): the provider would otherwise retry it for days.
"""

import hmac
import json
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import receipts
from notifications.services.receipts import Callback, receipt_record

security_log = logging.getLogger("django.security.delivery_receipts")

# A receipt is a few hundred bytes; an email service's event with headers a few kilobytes.
MAX_BODY_BYTES = 64 * 1024

# The email services the registry sends through (ANYMAIL_ESP) and their anymail tracking webhook.
ESP_TRACKING_VIEWS = {
    "mailgun": "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    "postmark": "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    "sendgrid": "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
    "sparkpost": "anymail.webhooks.sparkpost.SparkPostTrackingWebhookView",
    "brevo": "anymail.webhooks.brevo.BrevoTrackingWebhookView",
    "mailjet": "anymail.webhooks.mailjet.MailjetTrackingWebhookView",
    "amazon_ses": "anymail.webhooks.amazon_ses.AmazonSESTrackingWebhookView",
    "resend": "anymail.webhooks.resend.ResendTrackingWebhookView",
}


def _too_big(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES
    except ValueError:
        return True


def _refuse(request: HttpRequest, provider: str, why: str, status: int) -> HttpResponse:
    security_log.warning(
        "Refused a %s delivery callback from %s: %s", provider, request.META.get("REMOTE_ADDR", "?"), why
    )
    response = HttpResponse(f"{why}\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="delivery-receipts"'
    return response


def _answer(outcome: str) -> HttpResponse:
    # 202 for an unknown message: taken, nothing to do; the provider must not retry.
    return JsonResponse({"status": outcome}, status=202 if outcome == "unknown" else 200)


def receipt_endpoint(view):
    """The common door: CSRF-exempt (no browser, no cookie), POST only, never cached, a small body."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _too_big(request):
            return HttpResponse("Too large\n", status=413, content_type="text/plain")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(never_cache(require_POST(wrapped)))


@receipt_endpoint
def notify_receipt(request: HttpRequest) -> HttpResponse:
    """GOV.UK Notify's delivery receipt: JSON, with the bearer token set in Notify's callback settings."""
    token = settings.NOTIFY_CALLBACK_TOKEN
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token or not given or not hmac.compare_digest(given.encode(), token.encode()):
        return _refuse(request, "Notify", "bad or missing bearer token", 401)
    try:
        payload = json.loads(request.body)
        notification_id, status = str(payload["id"]), str(payload["status"])
    except (ValueError, KeyError, TypeError):
        security_log.warning("Notify delivery callback with an unreadable body: refused")
        return HttpResponse("Unreadable receipt\n", status=400, content_type="text/plain")
    reading = receipts.read_notify(status)
    if reading is None:
        return _answer("ignored")
    when = payload.get("completed_at") or payload.get("sent_at") or payload.get("created_at")
    callback = Callback(
        provider="notify",
        provider_message_id=notification_id,
        provider_status=status,
        reading=reading,
        provider_at=parse_datetime(str(when)) if when else None,
        reference=str(payload.get("reference") or ""),
    )
    return _answer(receipt_record(callback))


@receipt_endpoint
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback: a form POST signed with our auth token over the public URL it was sent to."""
    from twilio.request_validator import RequestValidator

    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    # The address Twilio signed is the one we gave it (SITE_URL): behind a proxy, the request's own may differ.
    url = f"{settings.SITE_URL}{request.get_full_path()}"
    params = {key: request.POST.get(key) for key in request.POST}
    if not token or not signature or not RequestValidator(token).validate(url, params, signature):
        return _refuse(request, "Twilio", "bad or missing signature", 403)
    sid, status = params.get("MessageSid") or params.get("SmsSid") or "", params.get("MessageStatus") or ""
    reading = receipts.read_twilio(status, params.get("ErrorCode") or "")
    if not sid or reading is None:
        return _answer("ignored")
    callback = Callback(
        provider="twilio",
        provider_message_id=sid,
        provider_status=f"{status}:{params['ErrorCode']}" if params.get("ErrorCode") else status,
        reading=reading,
        # Not a Twilio field: a stand-in or relay that reports the parts of a long text one by one says which.
        segment=params.get("SegmentNumber") or "",
    )
    return _answer(receipt_record(callback))


@receipt_endpoint
def email_tracking(request: HttpRequest) -> HttpResponse:
    """The email service's tracking webhook (ANYMAIL_ESP), checked by anymail (Mailgun's HMAC signature, basic
    auth with ANYMAIL_WEBHOOK_SECRET...); its events reach notifications.receivers.email_tracked."""
    from anymail.exceptions import AnymailWebhookValidationFailure

    path = ESP_TRACKING_VIEWS.get(settings.ANYMAIL_ESP or "")
    if path is None:
        raise Http404  # plain SMTP: no receipts, nothing here
    if settings.ANYMAIL_ESP != "mailgun" and not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        # Only Mailgun signs its webhooks here; the others are authenticated by basic auth alone, and anymail
        # would take them unauthenticated (with a warning) when no secret is set.
        return _refuse(request, settings.ANYMAIL_ESP, "no ANYMAIL_WEBHOOK_SECRET set", 403)
    try:
        return import_string(path).as_view()(request)
    except AnymailWebhookValidationFailure as error:
        return _refuse(request, settings.ANYMAIL_ESP, str(error), 403)

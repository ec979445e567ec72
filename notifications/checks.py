"""Start-up warnings about delivery receipts that would be refused or unchecked (notifications/views/receipts.py)."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def delivery_receipt_secrets(app_configs, **kwargs):
    warnings = []
    if settings.SMS_BACKEND.endswith("NotifySmsBackend") and not settings.NOTIFY_CALLBACK_TOKEN:
        warnings.append(
            Warning(
                "Texts go through GOV.UK Notify but NOTIFY_CALLBACK_TOKEN is empty: its delivery receipts are refused.",
                hint="Set NOTIFY_CALLBACK_TOKEN and the same bearer token in Notify's callback settings.",
                id="notifications.W001",
            )
        )
    esp = getattr(settings, "ANYMAIL_ESP", "")
    anymail = getattr(settings, "ANYMAIL", {})
    if esp and esp != "mailgun" and not anymail.get("WEBHOOK_SECRET") and not settings.DEBUG:
        # anymail only warns then; a forged receipt could mark a patient's address bounced.
        warnings.append(
            Warning(
                f"ANYMAIL_ESP={esp} but ANYMAIL_WEBHOOK_SECRET is empty: its tracking webhook is not authenticated.",
                hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and put it in the webhook URL at the email service.",
                id="notifications.W002",
            )
        )
    return warnings

"""Pages of the notifications app. The dev mailbox shows what the embedded default "sent" (var/mailbox/), so a
demo can open a patient's questionnaire link without a real mail server. Those links are live: whoever holds one
can answer in the patient's name, so only administrators see the mailbox (not auditors, not clinicians), and only
where it is switched on."""

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from notifications.mailbox import read_mailbox
from registry.scoping import is_administrator


def dev_mailbox_enabled() -> bool:
    return bool(settings.DEBUG or getattr(settings, "SHOW_DEV_MAILBOX", False))


def _when(date_header):
    # email.policy.default parses Date into a header that carries the datetime.
    return getattr(date_header, "datetime", None)


# The emails' HTML (inline styles, as email clients need) is shown in a sandboxed srcdoc iframe, which inherits
# this page's Content-Security-Policy: allow inline styles here only. Scripts stay blocked (and sandboxed).
@csp_update({"style-src": ["'unsafe-inline'"]})
def dev_mailbox(request):
    if not dev_mailbox_enabled():
        raise Http404
    return _dev_mailbox(request)


@login_required
@require_safe
def _dev_mailbox(request):
    if not is_administrator(request.user):
        raise PermissionDenied("The mailbox is for administrators: it holds patients' live questionnaire links.")
    messages = [{**item, "sent_at": _when(item["date"])} for item in read_mailbox()]
    return render(
        request,
        "notifications/mailbox.html",
        {"mail": messages, "mailbox_dir": settings.MAILBOX_DIR, "backend": settings.EMAIL_BACKEND},
    )

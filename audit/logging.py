"""Error reports without tokens. Django's AdminEmailHandler mails the request path, META (PATH_INFO,
REQUEST_URI, HTTP_REFERER) and every frame's local variables; a questionnaire or unsubscribe token can be in
any of them. This handler redacts the path pattern and, when the request carried a token in its path, that
literal token wherever else it appears (a `token` local variable, the Referer header) before anything is sent."""

import re

from django.conf import settings
from django.utils.log import AdminEmailHandler

from registry.logging import _TOKEN_IN_PATH, redact

_TOKEN = re.compile(_TOKEN_IN_PATH.pattern)
REDACTED = "[redacted]"


def tokens_in(request) -> list[str]:
    if request is None:
        return []
    texts = [getattr(request, "path", ""), request.META.get("HTTP_REFERER", "")] if hasattr(request, "META") else []
    found = []
    for text in texts:
        for match in _TOKEN.finditer(text or ""):
            found.append(match.group(0)[len(match.group(1)) :])
    return found


def redact_all(text: str | None, tokens: list[str]) -> str | None:
    if not text:
        return text
    text = redact(text)
    for token in tokens:
        text = text.replace(token, REDACTED)
    return text


class RedactingAdminEmailHandler(AdminEmailHandler):
    def emit(self, record):
        if not settings.ADMINS:
            return
        self._tokens = tokens_in(getattr(record, "request", None))
        super().emit(record)

    def send_mail(self, subject, message, *args, **kwargs):
        tokens = getattr(self, "_tokens", [])
        html = kwargs.pop("html_message", None)
        super().send_mail(
            redact_all(subject, tokens),
            redact_all(message, tokens),
            *args,
            html_message=redact_all(html, tokens),
            **kwargs,
        )

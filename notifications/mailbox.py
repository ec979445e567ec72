"""The embedded default's mail server: every message becomes an .eml file in var/mailbox/, which the demo
shows at /dev/mailbox/. Web, worker and beat are separate processes, so the mailbox must be on disk."""

from email import message_from_bytes, policy
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.crypto import get_random_string


class LocalMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.MAILBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{get_random_string(6)}.eml"
            (folder / name).write_bytes(message.message().as_bytes())
        return len(email_messages)


def read_mailbox(limit: int = 100) -> list[dict]:
    """Newest first: subject, recipients, date and the plain-text/HTML parts."""
    folder = Path(settings.MAILBOX_DIR)
    if not folder.exists():
        return []
    items = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        items.append(
            {
                "id": path.stem,
                "subject": msg["subject"],
                "to": msg["to"],
                "from": msg["from"],
                "date": msg["date"],
                "text": text.get_content() if text else "",
                "html": html.get_content() if html else "",
            }
        )
    return items

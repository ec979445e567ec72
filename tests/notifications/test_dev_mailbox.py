"""The dev mailbox at /dev/mailbox/: what the embedded default "sent", for staff, never in production."""

import time

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

URL = "/dev/mailbox/"


@pytest.fixture
def mailbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "notifications.mailbox.LocalMailboxBackend"
    settings.MAILBOX_DIR = tmp_path / "mailbox"
    settings.SHOW_DEV_MAILBOX = True
    settings.DEBUG = False
    return settings.MAILBOX_DIR


def send(subject: str, *, html: str = "") -> None:
    text = f"Text of {subject}: https://example.org/q/abc"
    message = mail.EmailMultiAlternatives(subject, text, to=["p@example.org"])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
    time.sleep(0.001)  # file names carry microseconds: keep the order unambiguous


def test_url_name():
    assert reverse("notifications:dev-mailbox") == URL


def test_lists_messages_newest_first_with_text_and_sandboxed_html(client, clinician, mailbox):
    send("First message")
    send("Your 1-month knee questionnaire", html='<p>Hello</p><a href="https://example.org/q/xyz">Start</a>')
    client.force_login(clinician)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Your 1-month knee questionnaire") < body.index("First message")
    assert "To p@example.org" in body
    # Plain text with its link clickable.
    assert '<a href="https://example.org/q/abc"' in body
    # HTML part in a sandboxed iframe: escaped into srcdoc, links open outside the sandbox.
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in body
    srcdoc = "&lt;base target=&quot;_blank&quot;&gt;&lt;p&gt;Hello&lt;/p&gt;&lt;a href=&quot;https://example.org/q/xyz"
    assert f'srcdoc="{srcdoc}' in body
    assert "allow-scripts" not in body
    assert "allow-same-origin" not in body
    assert len(response.context["mail"]) == 2


def test_empty_mailbox_says_so(client, clinician, mailbox):
    client.force_login(clinician)
    assert "No messages yet" in client.get(URL).content.decode()


def test_warns_when_mail_goes_elsewhere(client, clinician, mailbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    client.force_login(clinician)
    assert "new messages will not appear here" in client.get(URL).content.decode()


def test_hidden_in_production(client, admin_user, mailbox, settings):
    settings.SHOW_DEV_MAILBOX = False
    settings.DEBUG = False
    client.force_login(admin_user)
    assert client.get(URL).status_code == 404


def test_debug_alone_shows_it(client, admin_user, mailbox, settings):
    settings.SHOW_DEV_MAILBOX = False
    settings.DEBUG = True
    client.force_login(admin_user)
    assert client.get(URL).status_code == 200


def test_anonymous_is_sent_to_sign_in(client, mailbox, db):
    send("Secret link")
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_signed_in_non_staff_is_refused(client, mailbox, db):
    send("Secret link")
    client.force_login(UserFactory(username="nobody"))
    response = client.get(URL)
    assert response.status_code == 403
    assert b"Secret link" not in response.content


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "admin_user"])
def test_every_staff_persona_can_read_it(client, mailbox, persona, request):
    send("Questionnaire")
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 200

"""The dev mailbox at /dev/mailbox/: what the embedded default "sent". It shows live questionnaire links, so only
administrators see it, and only where it is switched on (development, or SHOW_DEV_MAILBOX for a staging demo)."""

import time

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from registry.scoping import ADMINISTRATOR_GROUP
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


def test_lists_messages_newest_first_with_text_and_sandboxed_html(client, admin_user, mailbox):
    send("First message")
    send("Your 1-month knee questionnaire", html='<p>Hello</p><a href="https://example.org/q/xyz">Start</a>')
    client.force_login(admin_user)
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


def test_empty_mailbox_says_so(client, admin_user, mailbox):
    client.force_login(admin_user)
    assert "No messages yet" in client.get(URL).content.decode()


def test_warns_when_mail_goes_elsewhere(client, admin_user, mailbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    client.force_login(admin_user)
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


def test_a_registry_administrator_reads_it(client, mailbox, db):
    """The administrator role (registry/scoping.py), not only a superuser."""
    send("Questionnaire")
    administrator = UserFactory(username="registry_admin")
    administrator.groups.add(Group.objects.get_or_create(name=ADMINISTRATOR_GROUP)[0])
    client.force_login(administrator)
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Questionnaire" in response.content


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "outsider", "django_staff"])
def test_no_one_but_an_administrator_sees_the_patients_links(client, mailbox, persona, request, db):
    """An auditor or a clinician holding a patient's live link could answer in the patient's name."""
    send("Your knee questionnaire")
    if persona == "django_staff":
        user = UserFactory(username="staff_flag_only", is_staff=True)  # may open the admin; not an administrator
    else:
        user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 403
    assert b"Your knee questionnaire" not in response.content
    assert b"/q/abc" not in response.content

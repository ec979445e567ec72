"""Staff sign in with a password and, where required, a TOTP code (django-otp), with single-use backup codes."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from tests.factories import PASSWORD
from tests.security.conftest import current_code


def sign_in(client, user, **extra):
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD, **extra})


def test_without_a_clinic_rule_or_device_the_password_is_enough(client, clinician):
    response = sign_in(client, clinician)
    assert response.status_code == 302
    assert client.get(reverse("registry:patient-list")).status_code == 200


def test_a_user_with_a_device_is_not_signed_in_until_the_code(client, clinician, enrolled, patient, time_machine):
    time_machine.move_to(timezone.now(), tick=True)
    device = enrolled(clinician)
    response = sign_in(client, clinician)
    assert response.url == reverse("two-factor-verify")
    # The password alone opens nothing.
    assert client.get(reverse("registry:patient-list")).status_code == 302
    assert "_auth_user_id" not in client.session

    wrong = client.post(reverse("two-factor-verify"), {"code": "000000" if current_code(device) != "000000" else "1"})
    assert wrong.status_code == 400
    assert "_auth_user_id" not in client.session
    # django-otp throttles a device after a wrong code (1 s, then doubling): even the right code waits.
    assert client.post(reverse("two-factor-verify"), {"code": current_code(device)}).status_code == 400
    time_machine.shift(3)

    right = client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert right.status_code == 302
    assert client.get(reverse("registry:patient-detail", args=[patient.registry_number])).status_code == 200


def test_a_pending_sign_in_expires(client, clinician, enrolled, time_machine):
    time_machine.move_to(timezone.now(), tick=True)
    device = enrolled(clinician)
    sign_in(client, clinician)
    time_machine.shift(400)
    response = client.post(reverse("two-factor-verify"), {"code": current_code(device)})
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_the_next_address_after_the_code_stays_on_this_site(client, clinician, enrolled):
    device = enrolled(clinician)
    client.post(
        f"{reverse('login')}?next=https://evil.example/", {"username": clinician.username, "password": PASSWORD}
    )
    response = client.post(
        reverse("two-factor-verify"), {"code": current_code(device), "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert not response.url.startswith("https://evil.example")


def test_clinic_rule_sends_members_to_enrolment_before_any_page(client, clinic, clinician, patient):
    clinic.require_two_factor = True
    clinic.save()
    sign_in(client, clinician)
    for url in (reverse("registry:patient-list"), reverse("registry:patient-detail", args=[patient.registry_number])):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("two-factor-setup"))
    # The API with the session is refused too (no redirect for a program).
    assert client.get("/api/v1/patients/").status_code == 403


def test_enrolment_shows_a_qr_code_confirms_with_a_code_and_gives_backup_codes(client, clinic, clinician, patient):
    clinic.require_two_factor = True
    clinic.save()
    sign_in(client, clinician)
    page = client.get(reverse("two-factor-setup"))
    assert page.status_code == 200
    assert b"<svg" in page.content  # drawn on the server: no image from an outside service
    assert b"http" not in re.sub(rb'xmlns(:\w+)?="[^"]+"', b"", page.content.split(b"<svg", 1)[1].split(b"</svg>")[0])
    assert page["Cache-Control"].startswith("max-age=0")
    device = TOTPDevice.objects.get(user=clinician, confirmed=False)

    done = client.post(reverse("two-factor-setup"), {"code": current_code(device)})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("registry:patient-detail", args=[patient.registry_number])).status_code == 200

    # Next time: password, then a backup code, which works once.
    client.logout()
    sign_in(client, clinician)
    assert client.post(reverse("two-factor-verify"), {"code": codes[0]}).status_code == 302
    assert client.get(reverse("registry:patient-list")).status_code == 200
    client.logout()
    sign_in(client, clinician)
    assert client.post(reverse("two-factor-verify"), {"code": codes[0]}).status_code == 400
    assert StaticToken.objects.filter(device__user=clinician).count() == 9


def test_a_signed_in_user_with_a_device_but_no_code_is_sent_to_verify(client, clinician, enrolled):
    enrolled(clinician)
    client.force_login(clinician)  # e.g. through a path that skipped the code
    response = client.get(reverse("registry:patient-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("two-factor-verify"))


def test_administrators_follow_the_strictest_clinic(client, clinic, admin_user):
    clinic.require_two_factor = True
    clinic.save()
    client.force_login(admin_user)
    assert client.get(reverse("registry:patient-list")).url.startswith(reverse("two-factor-setup"))


def test_api_token_requests_are_exempt_from_the_code_and_tokens_are_revocable(client, clinic, clinician, patient):
    clinic.require_two_factor = True
    clinic.save()
    token = Token.objects.create(user=clinician)
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert client.get(f"/api/v1/patients/{patient.pk}/", **headers).status_code == 200
    token.delete()
    assert client.get(f"/api/v1/patients/{patient.pk}/", **headers).status_code == 401


def test_a_user_creates_and_revokes_their_own_api_token(client, clinician):
    client.force_login(clinician)
    created = client.post(reverse("api-token"), {"action": "create"})
    key = created.context["new_key"]
    assert Token.objects.get(user=clinician).key == key
    # Shown once: the page does not show it again.
    assert key.encode() not in client.get(reverse("api-token")).content
    client.post(reverse("api-token"), {"action": "revoke"})
    assert not Token.objects.filter(user=clinician).exists()


@pytest.mark.parametrize(
    ("persona", "status"), [("lead", 302), ("admin_user", 302), ("clinician", 403), ("auditor", 403), ("outsider", 404)]
)
def test_only_the_lead_or_an_administrator_sets_the_clinic_rule(client, clinic, persona, status, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.post(reverse("clinic-two-factor", args=[clinic.pk]), {"require_two_factor": "on"})
    assert response.status_code == status
    clinic.refresh_from_db()
    assert clinic.require_two_factor is (status == 302)

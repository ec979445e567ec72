import pytest
from rest_framework.authtoken.models import Token

from registry.models import Clinic
from tests.factories import PASSWORD, ClinicFactory, UserFactory

URL = "/api/v1/clinics/"
NEW_CLINIC = {
    "name": "East Knee Clinic",
    "time_zone": "America/New_York",
    "link_requires_year_of_birth": True,
    "contact_email": "east@clinic.example",
    "phone": "+1 212 555 0100",
    "country": "US",
    "default_language": "cy",
    "show_own_scores": False,
    "default_channels": "both",
    "daily_email_cap": 2000,
    "daily_text_cap": 500,
}


def test_list_shows_only_the_users_clinics(api_as, clinician, clinic, other_clinic):
    response = api_as(clinician).get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [
        {
            "id": clinic.id,
            "name": "North Knee Clinic",
            "time_zone": "Europe/London",
            "link_requires_year_of_birth": False,
            "contact_email": "",
            "phone": "",
            "country": "",
            "default_language": "en-gb",
            "show_own_scores": True,
            "default_channels": "email",
            "daily_email_cap": None,
            "daily_text_cap": None,
        }
    ]


def test_administrator_sees_every_clinic(api_as, admin_user, clinic, other_clinic):
    names = [c["name"] for c in api_as(admin_user).get(URL).json()["results"]]
    assert names == ["North Knee Clinic", "South Knee Clinic"]


def test_administrator_creates_a_clinic_even_when_there_is_none_yet(api_as, admin_user):
    response = api_as(admin_user).post(URL, NEW_CLINIC)
    assert response.status_code == 201, response.json()
    clinic = Clinic.objects.get()
    assert response.json() == {"id": clinic.id, **NEW_CLINIC}
    assert clinic.time_zone == "America/New_York"
    assert clinic.show_own_scores is False


@pytest.mark.parametrize("persona", ["clinician", "lead", "auditor", "outsider"])
def test_only_administrators_create_clinics(api_as, persona, request):
    user = request.getfixturevalue(persona)
    response = api_as(user).post(URL, NEW_CLINIC)
    assert response.status_code == 403
    assert not Clinic.objects.filter(name="East Knee Clinic").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Mars/Olympus_Mons"),
        ("time_zone", "Europe/Lon\x00don"),
        ("contact_email", "not-an-email"),
        ("country", "XX"),
        ("country", "Atlantis"),
        ("default_channels", "fax"),
        ("daily_email_cap", 0),  # no limit is empty; a limit of none would hold every email for ever
        ("daily_email_cap", -5),
        ("daily_email_cap", 2_000_000),
        ("daily_text_cap", "lots"),
        ("daily_text_cap", 0),
    ],
)
def test_create_rejects_invalid_values(api_as, admin_user, field, value):
    response = api_as(admin_user).post(URL, {**NEW_CLINIC, field: value})
    assert response.status_code == 400
    assert field in response.json()
    assert not Clinic.objects.exists()


def test_create_rejects_unknown_and_read_only_fields(api_as, admin_user):
    response = api_as(admin_user).post(URL, {**NEW_CLINIC, "colour": "blue", "id": 99})
    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."], "id": ["This field is read-only."]}


def test_create_rejects_a_duplicate_name(api_as, admin_user, clinic):
    response = api_as(admin_user).post(URL, {**NEW_CLINIC, "name": clinic.name})
    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize("body", ["[1, 2]", '"a clinic"', "42", "{not json"])
def test_a_body_that_is_not_an_object_is_a_400(api_as, admin_user, body):
    response = api_as(admin_user).post(URL, body, content_type="application/json")
    assert response.status_code == 400


def test_retrieve_of_another_clinic_is_404(api_as, clinician, clinic, other_clinic):
    api = api_as(clinician)
    assert api.get(f"{URL}{clinic.id}/").status_code == 200
    assert api.get(f"{URL}{other_clinic.id}/").status_code == 404


def test_clinics_are_never_deleted(api_as, admin_user, clinic):
    assert api_as(admin_user).delete(f"{URL}{clinic.id}/").status_code == 405
    assert Clinic.objects.filter(pk=clinic.pk).exists()


def test_unauthenticated_requests_are_refused(api, clinic):
    assert api.get(URL).status_code == 401
    assert api.post(URL, NEW_CLINIC).status_code == 401


def test_a_user_with_no_clinic_role_is_refused(api_as, clinic):
    assert api_as(UserFactory()).get(URL).status_code == 403


def test_token_and_session_authentication_work(api, clinician, clinic):
    token = Token.objects.create(user=clinician)
    response = api.get(URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert api.get(URL, HTTP_AUTHORIZATION="Token not-a-real-token").status_code == 401

    api.credentials()
    assert api.login(username=clinician.username, password=PASSWORD)
    assert api.get(URL).status_code == 200


def test_list_is_paginated_and_filtered(api_as, admin_user):
    for n in range(3):
        ClinicFactory(name=f"Knee Centre {n}")
    ClinicFactory(name="Hip Centre")
    body = api_as(admin_user).get(URL, {"limit": 2, "q": "knee"}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None


def test_a_clinic_phone_number_must_be_diallable(api_as, admin_user):
    """It becomes a tel: link on the page a patient with an urgent answer sees."""
    response = api_as(admin_user).post(URL, {**NEW_CLINIC, "phone": "call reception"})
    assert response.status_code == 400
    assert "phone" in response.json()
    assert not Clinic.objects.exists()
    assert api_as(admin_user).post(URL, {**NEW_CLINIC, "phone": "020 7946 0018"}).status_code == 201
    clinic = Clinic.objects.get()
    assert (clinic.phone, clinic.phone_link) == ("020 7946 0018", "tel:02079460018")


def test_a_clinic_without_limits_sends_empty_ones_and_the_creation_is_audited(api_as, admin_user):
    body = {k: v for k, v in NEW_CLINIC.items() if k not in ("daily_email_cap", "daily_text_cap")}
    response = api_as(admin_user).post(URL, {**body, "daily_text_cap": None}, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["daily_email_cap"], response.json()["daily_text_cap"]) == (None, None)
    clinic = Clinic.objects.get()
    (created,) = clinic.history.all()
    assert (created.history_type, created.history_user, created.default_channels) == ("+", admin_user, "both")


def test_a_change_of_a_clinics_limits_in_the_admin_is_validated_and_audited(client, admin_user, clinic):
    from django.urls import reverse

    client.force_login(admin_user)
    url = reverse("admin:registry_clinic_change", args=[clinic.pk])
    form = {
        "name": clinic.name,
        "time_zone": clinic.time_zone,
        "default_channels": "sms",
        "default_language": "en-gb",
        "daily_email_cap": "",
        "daily_text_cap": "0",
    }
    assert client.post(url, form).status_code == 200  # the form again, with the error
    clinic.refresh_from_db()
    assert clinic.daily_text_cap is None
    assert client.post(url, {**form, "daily_text_cap": "250"}).status_code == 302
    clinic.refresh_from_db()
    assert (clinic.default_channels, clinic.daily_email_cap, clinic.daily_text_cap) == ("sms", None, 250)
    change = clinic.history.first()
    assert (change.history_type, change.history_user, change.daily_text_cap) == ("~", admin_user, 250)
    assert change.prev_record.daily_text_cap is None

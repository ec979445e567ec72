"""Who may open which clinician page: outsiders find nothing (404), auditors read but never write (403)."""

import pytest
from django.urls import reverse


def url_for(name, injection):
    if name.startswith("injection-") and name != "injection-new":
        return reverse(f"registry:{name}", args=[injection.pk])
    return reverse(f"registry:{name}", args=[injection.patient.registry_number])


READ_PAGES = ["patient-detail", "injection-detail"]
WRITE_PAGES = ["patient-edit", "patient-withdraw", "injection-new", "injection-edit"]


@pytest.mark.parametrize(
    ("name", "method"), [(n, "get") for n in READ_PAGES + WRITE_PAGES] + [(n, "post") for n in WRITE_PAGES]
)
def test_outsider_gets_404(client, outsider, injection, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(url_for(name, injection))
    assert response.status_code == 404


@pytest.mark.parametrize("name", READ_PAGES)
def test_a_post_to_a_read_page_is_405_for_everyone_before_any_lookup(client, outsider, clinician, injection, name):
    # The method is refused before the record is looked up, so the outsider learns nothing the clinician does not.
    for user in (outsider, clinician):
        client.force_login(user)
        assert client.post(url_for(name, injection)).status_code == 405


@pytest.mark.parametrize("name", WRITE_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_auditor_gets_403_on_write_pages(client, auditor, injection, name, method):
    client.force_login(auditor)
    response = getattr(client, method)(url_for(name, injection), {"reason": "x", "decision": "retain"})
    assert response.status_code == 403
    injection.patient.refresh_from_db()
    assert not injection.patient.has_withdrawn


@pytest.mark.parametrize("method", ["get", "post"])
def test_auditor_cannot_enrol(client, auditor, method):
    client.force_login(auditor)
    assert getattr(client, method)(reverse("registry:patient-enrol")).status_code == 403


@pytest.mark.parametrize("name", READ_PAGES)
def test_auditor_reads(client, auditor, injection, name):
    client.force_login(auditor)
    assert client.get(url_for(name, injection)).status_code == 200


@pytest.mark.parametrize("name", READ_PAGES + WRITE_PAGES)
def test_lead_may_open_every_page(client, lead, injection, name):
    client.force_login(lead)
    assert client.get(url_for(name, injection)).status_code == 200


@pytest.mark.parametrize("name", READ_PAGES + WRITE_PAGES)
def test_signed_out_people_are_sent_to_login(client, injection, name):
    response = client.get(url_for(name, injection))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_unknown_registry_number_is_404(client, clinician, db):
    client.force_login(clinician)
    assert client.get(reverse("registry:patient-detail", args=["KR-0000-0000"])).status_code == 404

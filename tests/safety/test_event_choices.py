"""An adverse event offers and accepts only what the injection's product allows: the harvest (relatedness
"harvest" or "both", harvest-site categories) only where a harvest happened (BMAC: bone marrow; ADSC: fat).
Service, web form and API agree; the admin changes no event."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from safety import choices
from safety.choices import HARVEST_CATEGORIES, EventCategory, Relatedness
from tests.factories import make_injection
from tests.safety.ae_support import PRP_PROTOCOL, record
from tests.safety.test_events_api import URL, payload
from tests.safety.test_events_pages import form_data

pytestmark = pytest.mark.django_db

HARVEST_RELATEDNESS = [Relatedness.HARVEST, Relatedness.BOTH]


@pytest.fixture
def prp(patient, clinician):
    return make_injection(patient, clinician, product="prp", protocol=dict(PRP_PROTOCOL))


def test_the_choices_follow_the_products():
    assert set(choices.allowed_relatedness(["prp"])) == {"injection", "neither", "unknown"}
    assert set(choices.allowed_relatedness(["bmac"])) == set(Relatedness.values)
    assert set(choices.allowed_relatedness(["adsc", "prp"])) == set(Relatedness.values)
    assert not set(HARVEST_CATEGORIES) & set(choices.allowed_categories(["ha"]))
    assert set(choices.allowed_categories(["bmac"])) == set(EventCategory.values)


@pytest.mark.parametrize("relatedness", HARVEST_RELATEDNESS)
def test_the_service_refuses_the_harvest_for_a_prp_injection(clinician, prp, relatedness):
    with pytest.raises(ValidationError) as caught:
        record(clinician, prp, relatedness=relatedness)
    assert "harvest" in " ".join(caught.value.message_dict["relatedness"]).lower()
    assert not prp.adverse_events.exists()


@pytest.mark.parametrize("relatedness", HARVEST_RELATEDNESS)
def test_the_service_accepts_the_harvest_for_bmac(clinician, injection, relatedness):
    assert record(clinician, injection, relatedness=relatedness).relatedness == relatedness


def test_a_correction_cannot_make_a_prp_event_harvest_related(clinician, prp):
    from safety import services

    event = record(clinician, prp)
    with pytest.raises(ValidationError) as caught:
        services.adverse_event_correct(
            event=event, by=clinician, data={"relatedness": "both"}, reason="Rethought", expected_version=1
        )
    assert "relatedness" in caught.value.message_dict


def test_unlinking_the_harvest_injection_is_refused_while_the_event_blames_the_harvest(clinician, injection, prp):
    from safety import services

    both = record(clinician, injection, injections=[injection, prp], relatedness="harvest")
    with pytest.raises(ValidationError) as caught:
        services.adverse_event_correct(
            event=both, by=clinician, data={"injections": [prp]}, reason="Only the PRP", expected_version=1
        )
    assert "relatedness" in caught.value.message_dict


def _options(page: str, name: str) -> set[str]:
    import re

    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return set(re.findall(r'<option value="([^"]+)"', select))


def test_the_form_offers_no_harvest_for_a_patient_with_only_prp(client, clinician, prp):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={prp.patient.registry_number}"
    page = client.get(url).content.decode()
    assert _options(page, "relatedness") == {"injection", "neither", "unknown"}
    assert not _options(page, "category") & set(HARVEST_CATEGORIES)
    response = client.post(url, form_data(prp, relatedness="harvest"))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not prp.adverse_events.exists()


def test_the_form_offers_the_harvest_when_a_bmac_injection_can_be_chosen(client, clinician, injection, prp):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    page = client.get(url).content.decode()
    assert _options(page, "relatedness") == set(Relatedness.values)
    # ...and refuses it for an event ticked against the PRP injection only, next to the field.
    response = client.post(url, form_data(prp, relatedness="harvest"))
    assert response.status_code == 400
    assert "harvest" in response.content.decode().lower()
    assert not prp.adverse_events.exists()


def test_the_api_refuses_the_harvest_for_a_prp_injection(api_as, clinician, prp):
    response = api_as(clinician).post(URL, payload(prp, relatedness="harvest"), format="json")
    assert response.status_code == 400
    assert "relatedness" in response.json()
    response = api_as(clinician).post(URL, payload(prp, category="harvest_haematoma"), format="json")
    assert response.status_code == 400
    assert "category" in response.json()


def test_the_api_schema_says_which_products_allow_the_harvest():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    description = schema["components"]["schemas"]["AdverseEvent"]["properties"]["relatedness"]["description"]
    assert "BMAC" in description
    assert "ADSC" in description

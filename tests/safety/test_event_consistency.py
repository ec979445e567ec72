"""Issue 15: septic arthritis is serious by definition. Service, web form and API refuse it non-serious, and a
correction cannot make it so; nothing is stored."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from safety import services
from tests.safety.ae_support import SERIOUS, record
from tests.safety.test_events_api import URL, payload
from tests.safety.test_events_pages import form_data

pytestmark = pytest.mark.django_db

NOT_SERIOUS = {**SERIOUS, "serious_hospitalisation": False}


def test_the_service_refuses_non_serious_septic_arthritis(clinician, injection):
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, **NOT_SERIOUS)
    assert "Septic arthritis is a serious event" in " ".join(caught.value.message_dict["category"])
    assert not injection.adverse_events.exists()


@pytest.mark.parametrize("criterion", ["serious_hospitalisation", "serious_other_medically_important"])
def test_septic_arthritis_with_any_criterion_is_recorded(clinician, injection, criterion):
    event = record(clinician, injection, **{**NOT_SERIOUS, criterion: True})
    assert event.is_serious


def test_other_categories_may_still_be_non_serious(clinician, injection):
    assert not record(clinician, injection, category="cellulitis").is_serious


def test_a_correction_cannot_make_septic_arthritis_non_serious(clinician, injection):
    event = record(clinician, injection, **SERIOUS)
    with pytest.raises(ValidationError):
        services.adverse_event_correct(
            event=event,
            by=clinician,
            reason="Not admitted after all",
            expected_version=event.version,
            data={"serious_hospitalisation": False},
        )
    event.refresh_from_db()
    assert (event.is_serious, event.serious_hospitalisation, event.version) == (True, True, 1)


def test_the_form_refuses_non_serious_septic_arthritis(client, clinician, injection):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    response = client.post(url, form_data(injection, category="septic_arthritis", severity="3"))
    assert response.status_code == 400  # the form again, with the error
    assert "Septic arthritis is a serious event" in response.content.decode()
    assert not injection.adverse_events.exists()


def test_the_api_refuses_non_serious_septic_arthritis(api_as, clinician, injection):
    response = api_as(clinician).post(URL, payload(injection, category="septic_arthritis", severity=3), format="json")
    assert response.status_code == 400
    assert "Septic arthritis is a serious event" in " ".join(response.json()["category"])
    assert not injection.adverse_events.exists()

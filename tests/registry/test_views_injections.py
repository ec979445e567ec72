"""Recording, correcting and reading injections through the clinician pages."""

import pytest
from django.urls import reverse

from registry.models import Injection, TreatmentPlan
from tests.factories import BMAC_PROTOCOL, EXOSOME_PROTOCOL, GOVERNANCE, make_injection


@pytest.fixture
def writer(client, clinician):
    client.force_login(clinician)
    return client


def form_data(who, *, product="bmac", protocol=None, governance=None, **overrides) -> dict:
    data = {
        "knee": "left",
        "status": "given",
        "injected_on": "2026-03-02",
        "clinician": who.pk,
        "product": product,
        "guidance": "ultrasound",
        "volume_ml": "6",
        "rehabilitation": "home",
        "kl_grade": "2",
        "bmi": "27.5",
        "alignment": "varus",
        "alignment_degrees": "3",
        "activity_level": "4",
        "previous_treatments": ["physiotherapy", "nsaid"],
        "pathology": ["meniscal_tear"],
        "planned_injections": "1",
        "number_in_plan": "1",
    }
    protocol = BMAC_PROTOCOL if protocol is None and product == "bmac" else (protocol or {})
    data.update({f"{product}-{key}": str(value) for key, value in protocol.items()})
    data.update({f"governance-{key}": value for key, value in (governance or {}).items()})
    data.update(overrides)
    return data


def new_url(patient):
    return reverse("registry:injection-new", args=[patient.registry_number])


def test_record_page_has_a_fieldset_per_product_and_governance(writer, patient):
    response = writer.get(new_url(patient))
    assert response.status_code == 200
    text = response.text
    assert 'data-product="bmac"' in text
    assert 'data-product="exosome"' in text
    assert 'name="bmac-harvest_site"' in text
    assert 'name="exosome-batch_lot"' in text
    assert "<legend>Protocol: BMAC (bone marrow aspirate concentrate)</legend>" in text
    assert 'name="governance-study_registration"' in text
    assert "js/injection-form.js" in text
    # The current user is the default treating clinician.
    assert response.context["form"]["clinician"].value() == response.wsgi_request.user.pk


def test_record_bmac_through_the_form(writer, patient, clinician):
    response = writer.post(new_url(patient), form_data(clinician))
    assert response.status_code == 302
    assert response.url == reverse("registry:patient-detail", args=[patient.registry_number])
    injection = Injection.objects.get()
    assert injection.product == "bmac"
    assert injection.knee == "left"
    assert injection.protocol["harvest_site"] == "posterior_iliac_crest"
    assert injection.protocol["aspirate_volume_ml"] == 60.0  # normalised to a number by the service
    assert injection.previous_treatments == ["physiotherapy", "nsaid"]
    assert injection.pathology == ["meniscal_tear"]
    assert injection.governance == {}
    assert injection.created_by == clinician


def test_other_products_typed_values_are_ignored(writer, patient, clinician):
    data = form_data(clinician, **{"prp-spins": "not a number", "exosome-batch_lot": "X1"})
    response = writer.post(new_url(patient), data)
    assert response.status_code == 302
    assert "batch_lot" not in Injection.objects.get().protocol


def test_record_exosome_with_governance(writer, patient, clinician):
    data = form_data(clinician, product="exosome", protocol=EXOSOME_PROTOCOL, governance=GOVERNANCE)
    response = writer.post(new_url(patient), data)
    assert response.status_code == 302
    injection = Injection.objects.get()
    assert injection.governance["study_registration"] == "NCT01234567"
    assert injection.protocol["dose_particles"] == 2e10


def test_exosome_without_governance_names_what_is_missing_and_saves_nothing(writer, patient, clinician):
    data = form_data(clinician, product="exosome", protocol=EXOSOME_PROTOCOL)
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    assert not Injection.objects.exists()
    assert not TreatmentPlan.objects.exists()
    text = response.text
    assert "can only be recorded under a registered study" in text
    assert "study registration number, ethics approval reference, regulatory framework" in text
    assert "There is a problem: nothing has been saved" in text
    assert 'href="#governance"' in text  # the summary links to the governance fieldset
    assert response.context["governance_required"] is True
    # Typed values are kept.
    assert 'value="EV-2026-001"' in text
    assert 'value="Example Bio Ltd"' in text


def test_bad_governance_is_reported_on_its_field(writer, patient, clinician):
    governance = {**GOVERNANCE, "study_registration": "my study"}
    response = writer.post(
        new_url(patient), form_data(clinician, product="exosome", protocol=EXOSOME_PROTOCOL, governance=governance)
    )
    assert response.status_code == 200
    assert "Not a recognised trial registration number" in response.text
    assert 'id="id_governance-study_registration_error"' in response.text
    assert not Injection.objects.exists()


def test_governance_is_optional_for_bmac_but_validated_when_given(writer, patient, clinician):
    response = writer.post(new_url(patient), form_data(clinician, governance={"ethics_reference": "REC 1"}))
    assert response.status_code == 200
    assert "study_registration" in response.context["governance"].errors
    assert not Injection.objects.exists()


def test_errors_keep_every_typed_value(writer, patient, clinician):
    protocol = {**BMAC_PROTOCOL, "concentrate_volume_ml": 90}  # more than the 60 mL aspirated
    data = form_data(clinician, protocol=protocol, bmi="5", pathology_notes="Small effusion")
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    assert not Injection.objects.exists()
    text = response.text
    assert "Concentrate volume cannot exceed the aspirate volume of 60 mL" in text
    assert 'aria-describedby="id_bmac-concentrate_volume_ml_helptext id_bmac-concentrate_volume_ml_error"' in text
    assert 'id="id_bmi_error"' in text
    assert 'value="Demo centrifuge kit"' in text
    assert "Small effusion</textarea>" in text
    assert 'value="physiotherapy" id="id_previous_treatments_0" checked' in text
    assert 'value="2026-03-02"' in text
    # The error summary links to the field.
    assert 'href="#id_bmac-concentrate_volume_ml"' in text


def test_service_errors_land_on_the_right_field(writer, patient, clinician):
    # A second stage with no first injection: only the service can tell.
    data = form_data(clinician, planned_injections="3", number_in_plan="2")
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    messages = " ".join(response.context["form"].errors["number_in_plan"])
    assert "needs the plan's first injection recorded first" in messages
    assert not Injection.objects.exists()


def test_staged_plan_through_the_form(writer, patient, clinician):
    writer.post(new_url(patient), form_data(clinician, planned_injections="2"))
    response = writer.post(
        new_url(patient), form_data(clinician, planned_injections="2", number_in_plan="2", injected_on="2026-03-16")
    )
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get()
    assert plan.injections.count() == 2
    page = writer.get(reverse("registry:patient-detail", args=[patient.registry_number]))
    assert "Injection 2 of 2" in page.text


def test_withdrawn_patient_error_shown_at_the_top(writer, patient, clinician):
    patient.consent_withdrawn_at = "2026-02-01T10:00Z"
    patient.save()
    response = writer.post(new_url(patient), form_data(clinician))
    assert response.status_code == 200
    assert "has withdrawn consent" in response.text
    assert not Injection.objects.exists()


def test_treating_clinician_must_work_in_the_clinic(writer, patient, clinician, outsider):
    response = writer.post(new_url(patient), form_data(clinician, clinician=outsider.pk))
    assert response.status_code == 200
    assert "clinician" in response.context["form"].errors


def test_injection_detail_shows_protocol_and_audit_history(writer, injection, clinician):
    url_edit = reverse("registry:injection-edit", args=[injection.pk])
    data = form_data(clinician, protocol={**BMAC_PROTOCOL, "tnc_per_ml": 41}, volume_ml="7", reason="Lab report")
    for fixed in ("knee", "product", "planned_injections", "number_in_plan"):
        del data[fixed]
    assert writer.post(url_edit, data).status_code == 302
    response = writer.get(reverse("registry:injection-detail", args=[injection.pk]))
    assert response.status_code == 200
    text = response.text
    assert "<dt>Harvest site</dt><dd>Posterior iliac crest</dd>" in text
    assert "Audit history" in text
    assert "Injection recorded" in text
    assert "Lab report" in text
    assert "Protocol: TNC (×10⁶/mL)" in text
    assert "<td>35.5</td><td>41</td>" in text
    assert "<td>6.0</td><td>7.0</td>" in text
    assert "dr_north" in text
    assert "Correct this record" in text


def test_edit_injection_requires_a_reason(writer, injection, clinician):
    url = reverse("registry:injection-edit", args=[injection.pk])
    page = writer.get(url)
    assert page.status_code == 200
    assert 'name="bmac-harvest_site"' in page.text
    assert 'name="exosome-batch_lot"' not in page.text
    assert 'name="product"' not in page.text  # fixed once recorded
    data = form_data(clinician, volume_ml="9")
    response = writer.post(url, data)
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    injection.refresh_from_db()
    assert str(injection.volume_ml) == "6.0"


def test_edit_cannot_change_the_product(writer, injection, clinician):
    data = form_data(clinician, reason="Tried to change the product")
    data.update(product="prp", knee="right")
    response = writer.post(reverse("registry:injection-edit", args=[injection.pk]), data)
    assert response.status_code == 302  # the product field is not on the form: ignored
    injection.refresh_from_db()
    assert injection.product == "bmac"
    assert injection.knee == "left"


def test_exosome_record_shows_governance_on_the_detail_page(writer, patient, clinician):
    injection = make_injection(
        patient, clinician, product="exosome", protocol=dict(EXOSOME_PROTOCOL), governance=dict(GOVERNANCE)
    )
    response = writer.get(reverse("registry:injection-detail", args=[injection.pk]))
    assert "<dt>Ethics approval reference</dt><dd>REC 26/LO/0001</dd>" in response.text
    assert "<dt>Dose (particles)</dt><dd>2 × 10¹⁰</dd>" in response.text

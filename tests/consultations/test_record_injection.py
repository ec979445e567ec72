"""'Record the injection' from a proceeding consultation: the injection form starts from the consultation's
factors and product (?consultation=<id>, registry.prefill), and the saved injection is linked to it in the same
transaction, audited. Anything that cannot be linked saves nothing."""

from decimal import Decimal

import pytest
from django.urls import reverse

from consultations.models import Consultation
from consultations.services import consultation_record
from registry.models import Injection
from tests.consultations.factories import advise_against, make_consultation
from tests.factories import BMAC_PROTOCOL, PRP_PROTOCOL, PatientFactory
from tests.registry.test_views_injections import form_data as injection_form


def record_url(consultation) -> str:
    url = reverse("registry:injection-new", args=[consultation.patient.registry_number])
    return f"{url}?consultation={consultation.pk}"


@pytest.fixture
def consultation(patient, clinician):
    return make_consultation(
        patient,
        clinician,
        kl_grade=3,
        indications=["early_oa"],
        bmi=Decimal("31.2"),
        alignment="valgus",
        alignment_degrees=5,
        smoking="former",
        pathology=["bone_marrow_lesion"],
        previous_treatments=["physiotherapy", "analgesia", "ha_injection"],
    )


def test_the_form_starts_from_the_consultation(client, clinician, consultation):
    client.force_login(clinician)
    response = client.get(record_url(consultation))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["knee"].value() == "left"
    assert form["product"].value() == "bmac"
    assert form["kl_grade"].value() == 3
    assert str(form["bmi"].value()) == "31.2"
    assert (form["alignment"].value(), str(form["alignment_degrees"].value())) == ("valgus", "5.0")
    assert form["smoking"].value() == "former"
    assert form["pathology"].value() == ["bone_marrow_lesion"]
    # Only the previous treatments an injection's list holds carry over ("analgesia" is the consultation's own).
    assert form["previous_treatments"].value() == ["physiotherapy", "ha_injection"]
    assert form["clinician"].value() == clinician.pk
    # The chosen product's protocol fieldset is open.
    assert [f["code"] for f in response.context["protocol_fieldsets"] if f["chosen"]] == ["bmac"]


def test_saving_links_the_injection_to_the_consultation(client, clinician, consultation):
    client.force_login(clinician)
    data = injection_form(
        clinician, kl_grade="3", bmi="31.2", alignment="valgus", alignment_degrees="5", previous_treatments=[]
    )
    response = client.post(record_url(consultation), data)
    assert response.status_code == 302
    injection = Injection.objects.get()
    consultation.refresh_from_db()
    assert consultation.injection == injection
    assert injection.kl_grade == 3
    latest = consultation.history.order_by("-history_id").first()
    assert latest.history_change_reason == "Injection recorded from this consultation"
    assert latest.history_user == clinician
    assert latest.injection_id == injection.pk
    detail = client.get(reverse("consultations:consultation-detail", args=[consultation.pk])).text
    assert "Record the injection" not in detail  # done: the page links the injection instead
    assert reverse("registry:injection-detail", args=[injection.pk]) in detail
    # A second injection cannot be recorded from it.
    assert client.get(record_url(consultation)).status_code == 404


def test_another_product_is_refused_and_nothing_is_saved(client, clinician, consultation):
    client.force_login(clinician)
    data = injection_form(clinician, product="prp", protocol=PRP_PROTOCOL)
    response = client.post(record_url(consultation), data)
    assert response.status_code == 200
    assert "change the consultation first" in response.text
    assert not Injection.objects.exists()
    consultation.refresh_from_db()
    assert consultation.injection is None
    assert consultation.history.count() == 1


def test_another_knee_is_refused(client, clinician, consultation):
    client.force_login(clinician)
    response = client.post(record_url(consultation), injection_form(clinician, knee="right"))
    assert response.status_code == 200
    assert "the consultation is about the left knee" in response.text
    assert not Injection.objects.exists()


def test_only_a_proceeding_consultation_of_this_patient_opens_the_form(client, clinic, clinician, patient):
    against = consultation_record(patient=patient, by=clinician, data=advise_against())
    client.force_login(clinician)
    assert client.get(record_url(against)).status_code == 404
    other_patient = PatientFactory(clinic=clinic)
    theirs = make_consultation(other_patient, clinician)
    url = reverse("registry:injection-new", args=[patient.registry_number]) + f"?consultation={theirs.pk}"
    assert client.get(url).status_code == 404
    for key in ("abc", "0", "9" * 30):
        url = reverse("registry:injection-new", args=[patient.registry_number]) + f"?consultation={key}"
        assert client.get(url).status_code == 404


@pytest.mark.parametrize(("persona", "status"), [("auditor", 403), ("outsider", 404), ("lead", 200)])
def test_who_may_record_the_injection(client, consultation, persona, status, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(record_url(consultation)).status_code == status
    assert client.post(record_url(consultation), {}).status_code == status
    assert not Injection.objects.exists()


def test_without_a_consultation_the_form_is_blank_as_before(client, clinician, patient):
    client.force_login(clinician)
    response = client.get(reverse("registry:injection-new", args=[patient.registry_number]))
    assert response.context["form"]["kl_grade"].value() is None
    response = client.post(reverse("registry:injection-new", args=[patient.registry_number]), injection_form(clinician))
    assert response.status_code == 302
    assert not Consultation.objects.exists()
    assert Injection.objects.get().protocol["harvest_site"] == BMAC_PROTOCOL["harvest_site"]

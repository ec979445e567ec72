"""The consultation pages: recording through the form (advise against, proceed), the detail page, corrections,
the patient page's list and link, and who may open what (outsiders: 404; auditors read, never write)."""

import pytest
from django.urls import reverse

from consultations.models import Consultation
from consultations.services import consultation_record
from tests.consultations.factories import advise_against, form_data, make_consultation


def new_url(patient):
    return reverse("consultations:consultation-new", args=[patient.registry_number])


@pytest.fixture
def writer(client, clinician):
    client.force_login(clinician)
    return client


def test_the_form_has_its_fieldsets(writer, patient):
    response = writer.get(new_url(patient))
    assert response.status_code == 200
    text = response.text
    for legend in (
        "The consultation",
        "Selection and risk factors",
        "Previous treatments",
        "Reasoning",
        "Alternatives",
        "Decision",
        "Fallback plan (when proceeding)",
    ):
        assert f"<legend>{legend}</legend>" in text
    assert 'name="csrfmiddlewaretoken"' in text
    assert response.context["form"]["clinician"].value() == response.wsgi_request.user.pk
    assert response.context["form"]["review_after_months"].value() == 6


def test_advising_against_through_the_form(writer, patient, clinician):
    data = form_data(
        clinician,
        kl_grade="4",
        indications=[],
        reasons_against=["kl_4", "mechanical"],
        decision="advise_against",
        proposed_product="",
        referred_to="Surgical opinion",
        fallback_offer=[],
    )
    response = writer.post(new_url(patient), data)
    consultation = Consultation.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("consultations:consultation-detail", args=[consultation.pk])
    assert consultation.decision == "advise_against"
    assert consultation.reasons_against == ["kl_4", "mechanical"]
    assert consultation.referred_to == "Surgical opinion"
    assert consultation.history.get().history_user == clinician
    detail = writer.get(response.url).text
    assert "Advise against an injection" in detail
    assert "End-stage OA (KL grade 4); Mechanical symptoms or locking" in detail
    assert "Record the injection" not in detail  # nothing to record after advising against
    assert "Fallback plan" not in detail


def test_proceeding_through_the_form(writer, patient, clinician):
    response = writer.post(new_url(patient), form_data(clinician, review_after_months="9"))
    assert response.status_code == 302
    consultation = Consultation.objects.get()
    assert (consultation.decision, consultation.proposed_product) == ("proceed", "bmac")
    assert consultation.review_after_months == 9
    assert consultation.fallback_offer == ["physiotherapy"]
    assert consultation.previous_treatments == ["physiotherapy", "analgesia"]
    detail = writer.get(response.url).text
    assert "Fallback plan" in detail
    assert "9 months after the injection" in detail
    assert "Below the MCID in KOOS Pain or OKS, or not an OMERACT-OARSI responder" in detail
    record = reverse("registry:injection-new", args=[patient.registry_number]) + f"?consultation={consultation.pk}"
    assert f'href="{record}"' in detail
    # The "knees like mine" section is left for the integrator, empty.
    assert '<section id="expectation"' in detail
    assert "What to expect" in detail


def test_errors_come_back_beside_their_fields_and_nothing_is_saved(writer, patient, clinician):
    data = form_data(clinician, decision="advise_against", reasons_against=[], review_after_months="30")
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "review_after_months" in form.errors  # the form's own check (1-24)
    assert "There is a problem: nothing has been saved" in response.text
    assert not Consultation.objects.exists()
    response = writer.post(new_url(patient), form_data(clinician, decision="advise_against"))
    form = response.context["form"]
    assert form.errors["proposed_product"] == ["Only when the decision is to proceed with an injection."]
    assert form.errors["reasons_against"] == ["Advising against an injection needs at least one reason against."]
    assert not Consultation.objects.exists()


def test_an_unusual_value_is_confirmed_on_the_page(writer, patient, clinician):
    data = form_data(clinician, effusion="present", effusion_aspirated_ml="150")
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    assert 'value="selection.effusion_aspirated_ml"' in response.text
    assert not Consultation.objects.exists()
    response = writer.post(new_url(patient), {**data, "acknowledged_warnings": "selection.effusion_aspirated_ml"})
    assert response.status_code == 302
    assert Consultation.objects.get().effusion_aspirated_ml == 150


def test_correcting_a_consultation_with_a_reason(writer, patient, clinician):
    consultation = make_consultation(patient, clinician)
    url = reverse("consultations:consultation-edit", args=[consultation.pk])
    form = writer.get(url).context["form"]
    assert form["kl_grade"].value() == 2
    data = form_data(clinician, kl_grade="3", indications=["early_oa"], reason="X-ray re-read")
    response = writer.post(url, data)
    assert response.status_code == 302
    consultation.refresh_from_db()
    assert consultation.kl_grade == 3
    response = writer.get(reverse("consultations:consultation-detail", args=[consultation.pk]))
    assert "X-ray re-read" in response.text
    latest = response.context["trail"][0]
    assert latest["reason"] == "X-ray re-read"
    assert "Kellgren-Lawrence grade" in latest["changed"]
    # Without a reason nothing changes.
    response = writer.post(url, form_data(clinician, kl_grade="1"))
    assert response.status_code == 200
    consultation.refresh_from_db()
    assert consultation.kl_grade == 3


def test_the_patient_page_lists_consultations_and_links_a_new_one(client, patient, clinician, auditor):
    consultation_record(patient=patient, by=clinician, data=advise_against())
    client.force_login(clinician)
    text = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).text
    assert "New consultation" in text
    assert f'href="{new_url(patient)}"' in text
    assert "Advise against an injection" in text
    client.force_login(auditor)
    text = client.get(reverse("registry:patient-detail", args=[patient.registry_number])).text
    assert "Advise against an injection" in text
    assert "New consultation" not in text


def test_the_auditor_reads_but_sees_no_buttons(client, patient, clinician, auditor):
    consultation = make_consultation(patient, clinician)
    client.force_login(auditor)
    text = client.get(reverse("consultations:consultation-detail", args=[consultation.pk])).text
    assert "Proceed with an injection" in text
    assert "Record the injection" not in text
    assert "Correct this record" not in text


ROUTES = ("list", "new", "detail", "edit")
# (anonymous, clinician, lead, auditor, outsider) per route and method; a POST with nothing typed.
EXPECTED = {
    ("list", "get"): (302, 200, 200, 200, 200),
    ("new", "get"): (302, 200, 200, 403, 404),
    ("detail", "get"): (302, 200, 200, 200, 404),
    ("edit", "get"): (302, 200, 200, 403, 404),
    ("list", "post"): (302, 405, 405, 405, 405),
    ("new", "post"): (302, 200, 200, 403, 404),
    ("detail", "post"): (302, 405, 405, 405, 405),
    ("edit", "post"): (302, 200, 200, 403, 404),
}


@pytest.mark.parametrize(("route", "method"), list(EXPECTED))
def test_every_role_on_every_page(client, patient, clinician, lead, auditor, outsider, route, method):
    consultation = make_consultation(patient, clinician)
    url = {
        "list": reverse("consultations:consultation-list"),
        "new": new_url(patient),
        "detail": reverse("consultations:consultation-detail", args=[consultation.pk]),
        "edit": reverse("consultations:consultation-edit", args=[consultation.pk]),
    }[route]
    got = []
    for user in (None, clinician, lead, auditor, outsider):
        client.logout()
        if user is not None:
            client.force_login(user)
        got.append(getattr(client, method)(url).status_code)
    assert tuple(got) == EXPECTED[(route, method)]
    assert Consultation.objects.count() == 1
    assert consultation.history.count() == 1  # nobody's empty POST changed anything

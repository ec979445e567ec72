"""The clinic's own words on the patient's copy (issue 16): staff with write access to the clinic edit them (audited),
auditors read only (403), another clinic's staff are told nothing exists (404); bad input loses nothing."""

import pytest
from django.urls import reverse

from consultations import services
from consultations.models import DecisionAidText


def edit_url(clinic) -> str:
    return reverse("consultations:decision-aid-text", kwargs={"clinic_id": clinic.pk})


@pytest.mark.parametrize("who", ["clinician", "lead"])
def test_staff_who_write_edit_the_text_and_the_change_is_audited(client, clinic, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(edit_url(clinic)).status_code == 200
    response = client.post(edit_url(clinic), {"without_injection": "Walk every day.", "references": "Smith 2024."})
    assert response.status_code == 302
    text = DecisionAidText.objects.get(clinic=clinic)
    assert (text.without_injection, text.references, text.updated_by) == ("Walk every day.", "Smith 2024.", user)
    client.post(edit_url(clinic), {"without_injection": "Walk.", "references": ""})
    trail = list(text.history.order_by("history_date").values_list("history_change_reason", "history_user"))
    assert trail == [("Text for patients written", user.pk), ("Text for patients changed", user.pk)]


def test_auditors_may_read_but_not_change_it(client, clinic, auditor):
    client.force_login(auditor)
    assert client.get(edit_url(clinic)).status_code == 403
    assert client.post(edit_url(clinic), {"without_injection": "x", "references": ""}).status_code == 403
    assert not DecisionAidText.objects.exists()


def test_another_clinic_is_not_found(client, clinic, outsider):
    client.force_login(outsider)
    assert client.get(edit_url(clinic)).status_code == 404
    assert client.post(edit_url(clinic), {"without_injection": "x", "references": ""}).status_code == 404
    assert not DecisionAidText.objects.exists()


def test_too_long_a_text_is_refused_with_a_clear_error_and_kept_on_the_form(client, clinic, clinician):
    client.force_login(clinician)
    typed = "Word " * 500  # 2,500 characters, over 2,000
    response = client.post(edit_url(clinic), {"without_injection": typed, "references": "Kept 2024."})
    assert response.status_code == 200
    body = response.content.decode()
    assert "at most 2000 characters" in body
    assert "Kept 2024." in body
    assert not DecisionAidText.objects.exists()


def test_the_service_refuses_unknown_fields(clinic, clinician):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.decision_aid_text_save(clinic=clinic, by=clinician, data={"decision": "x"})
    assert "decision" in error.value.message_dict


def test_back_goes_only_to_a_consultation_page(client, clinic, clinician):
    client.force_login(clinician)
    form = {"without_injection": "", "references": "", "next": "/consultations/12/"}
    assert client.post(edit_url(clinic), form)["Location"] == "/consultations/12/"
    for elsewhere in ("https://evil.example/", "//evil.example/", "javascript:alert(1)", "/consultations/../admin/"):
        response = client.post(edit_url(clinic), {**form, "next": elsewhere})
        assert response["Location"] == edit_url(clinic)
        page = client.get(edit_url(clinic), {"next": elsewhere}).content.decode()
        assert elsewhere not in page

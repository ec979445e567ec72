"""The reminder settings page: the clinic lead changes the settings; its clinicians and auditors read them and get
403 on POST; staff of another clinic get 404; anonymous users are sent to sign in. The page's queries do not grow
with the clinic's history."""

import pytest
from django.urls import reverse

from outcomes.models import ReminderStrategy
from outcomes.reminder_settings import reminder_settings_change, settings_of
from registry.models import Clinic

pytestmark = pytest.mark.django_db


def url(clinic):
    return reverse("outcomes:reminder-settings", kwargs={"clinic_id": clinic.pk})


def form_data(clinic, **overrides):
    data = {
        "version": settings_of(Clinic.objects.get(pk=clinic.pk)).version,
        "text_reminders": "on",
        "text_reminder_days": "7, 14",
        "show_own_scores": "on",
        "daily_email_cap": "",
        "daily_text_cap": "300",
        "reason": "Texts cost less on the new contract",
    }
    return {key: value for key, value in (data | overrides).items() if value is not None}


def test_the_lead_changes_the_settings_and_sees_the_change(client, clinic, lead):
    client.force_login(lead)
    response = client.post(url(clinic), form_data(clinic))
    assert response.status_code == 302
    assert ReminderStrategy.objects.get(clinic=clinic, is_clinic_default=True).text_reminder_days == [7, 14]
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 300
    page = client.get(url(clinic)).content.decode()
    assert "The reminder settings are saved." in page
    assert "Texts cost less on the new contract" in page
    assert "Text reminders on day 7 and 14" in page
    assert "lead_north" in page


def test_invalid_days_and_cap_show_an_error_summary_and_save_nothing(client, clinic, lead):
    client.force_login(lead)
    response = client.post(url(clinic), form_data(clinic, text_reminder_days="7, 7, 40", daily_email_cap="0"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem: nothing has been saved" in page
    assert 'href="#id_text_reminder_days"' in page
    assert 'href="#id_daily_email_cap"' in page
    assert not ReminderStrategy.objects.exists()
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None


def test_a_missing_reason_is_refused(client, clinic, lead):
    client.force_login(lead)
    response = client.post(url(clinic), form_data(clinic, reason=None))
    assert response.status_code == 400
    assert 'href="#id_reason"' in response.content.decode()
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None


def test_a_page_opened_before_another_leads_save_is_refused_clearly(client, clinic, lead):
    client.force_login(lead)
    stale = form_data(clinic, daily_text_cap="10")
    client.post(url(clinic), form_data(clinic, daily_text_cap="500", reason="The other lead"))
    response = client.post(url(clinic), stale)
    assert response.status_code == 409
    assert "Someone else changed these settings" in response.content.decode()
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 500


@pytest.mark.parametrize("persona", ["clinician", "auditor"])
def test_clinicians_and_auditors_read_the_settings_but_cannot_change_them(client, clinic, persona, request):
    client.force_login(request.getfixturevalue(persona))
    page = client.get(url(clinic))
    assert page.status_code == 200
    assert b"Only the clinic's lead changes these settings." in page.content
    assert b'<form method="post" novalidate>' not in page.content
    assert client.post(url(clinic), form_data(clinic)).status_code == 403
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None


def test_staff_of_another_clinic_get_404(client, clinic, other_clinic, outsider):
    client.force_login(outsider)
    assert client.get(url(clinic)).status_code == 404
    assert client.post(url(clinic), form_data(clinic)).status_code == 404
    assert client.get(url(other_clinic)).status_code == 200  # their own clinic's


def test_a_lead_of_another_clinic_gets_404(client, clinic, other_clinic):
    from registry.choices import Role
    from tests.factories import staff

    other_lead = staff(other_clinic, Role.LEAD, username="lead_south")
    client.force_login(other_lead)
    assert client.post(url(clinic), form_data(clinic)).status_code == 404
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None


def test_anonymous_users_are_sent_to_sign_in(client, clinic):
    for response in (client.get(url(clinic)), client.post(url(clinic), form_data(clinic))):
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None


def test_the_comparisons_list_links_to_each_clinics_settings(client, clinic, clinician):
    client.force_login(clinician)
    page = client.get(reverse("outcomes:reminder-comparisons")).content.decode()
    assert url(clinic) in page


def _history(clinic, lead, start, stop):
    for i in range(start, stop):
        current = settings_of(Clinic.objects.get(pk=clinic.pk))
        reminder_settings_change(
            clinic=clinic,
            by=lead,
            version=current.version,
            text_reminders=True,
            text_reminder_days=[1 + i % 20],
            show_own_scores=i % 2 == 0,
            daily_email_cap=100 + i,
            daily_text_cap=None,
            reason=f"Change {i}",
        )


def test_the_pages_queries_do_not_grow_with_the_history(client, clinic, lead, django_assert_max_num_queries):
    client.force_login(lead)
    _history(clinic, lead, 0, 2)
    with django_assert_max_num_queries(14) as few:
        assert client.get(url(clinic)).status_code == 200
    _history(clinic, lead, 2, 32)
    with django_assert_max_num_queries(len(few)):
        page = client.get(url(clinic))
    shown = page.content.decode()
    assert "Change 31" in shown
    assert "Change 27" in shown
    assert "Change 26" not in shown  # the last five changes


def test_a_clinic_row_with_an_old_mistake_elsewhere_still_saves(client, clinic, lead):
    """The service checks only the fields the page changes: a phone number an administrator typed badly long ago is
    theirs to fix, and does not turn the lead's save into an error page."""
    Clinic.objects.filter(pk=clinic.pk).update(phone="call us")
    client.force_login(lead)
    assert client.post(url(clinic), form_data(clinic)).status_code == 302
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap == 300


def test_a_post_without_the_settings_version_is_refused_with_a_message(client, clinic, lead):
    client.force_login(lead)
    response = client.post(url(clinic), form_data(clinic, version=None))
    assert response.status_code == 400
    assert "The page was incomplete" in response.content.decode()
    assert Clinic.objects.get(pk=clinic.pk).daily_text_cap is None

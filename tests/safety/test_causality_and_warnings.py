"""Issue 15: causality assessed separately for the product and the procedure (the migration keeps every earlier
single assessment as a joint one), septic arthritis below CTCAE grade 3 as a warning to confirm (service, web
form, API, corrections; the confirmation in the audit trail), and dechallenge/rechallenge for staged plans."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from safety import services
from safety.choices import stronger_causality
from safety.models import AdverseEvent
from tests.factories import make_injection
from tests.safety.ae_support import SERIOUS, event_data, record
from tests.safety.test_events_api import URL, payload
from tests.safety.test_events_pages import form_data
from tests.support.migrations import migrated_to, migrated_to_latest

pytestmark = pytest.mark.django_db
SEPTIC_GRADE_2 = {**SERIOUS, "severity": 2}


# --- causality split ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "procedure", "stronger"),
    [
        ("possible", "unlikely", "possible"),
        ("unlikely", "probable", "probable"),
        ("certain", "probable", "certain"),
        ("unlikely", "unassessable", "unassessable"),  # open, not "unlikely"
        ("conditional", "unassessable", "conditional"),
        ("unlikely", "unlikely", "unlikely"),
    ],
)
def test_the_derived_causality_is_the_stronger_of_the_two(clinician, injection, product, procedure, stronger):
    assert stronger_causality(product, procedure) == stronger
    event = record(clinician, injection, causality_product=product, causality_procedure=procedure)
    event.refresh_from_db()
    assert event.causality == stronger
    assert AdverseEvent.objects.filter(causality=stronger, pk=event.pk).exists()  # what filters and analyses read


def test_a_new_assessment_of_either_ends_the_joint_flag(clinician, injection):
    event = record(clinician, injection)
    AdverseEvent.objects.filter(pk=event.pk).update(assessed_jointly=True)  # as the migration leaves old events
    event.refresh_from_db()
    corrected = services.adverse_event_correct(
        event=event,
        by=clinician,
        data={"description": event.description + " Reviewed."},
        reason="Narrative completed",
        expected_version=event.version,
    )
    assert corrected.assessed_jointly  # nothing about causality changed
    corrected = services.adverse_event_correct(
        event=corrected,
        by=clinician,
        data={"causality_procedure": "unlikely"},
        reason="Procedure assessed on its own",
        expected_version=corrected.version,
    )
    assert not corrected.assessed_jointly
    assert (corrected.causality_product, corrected.causality_procedure, corrected.causality) == (
        "probable",
        "unlikely",
        "probable",
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_causality_as_a_joint_assessment(clinician, injection):
    before_split = [("safety", "0009_adverse_event_categories_issue_15")]
    executor = migrated_to(before_split)
    old_apps = executor.loader.project_state(before_split).apps
    old = old_apps.get_model("safety", "AdverseEvent")
    recorded = dt.datetime(2026, 3, 7, 9, 30, tzinfo=dt.UTC)
    common = {
        "clinic_id": injection.patient.clinic_id,
        "patient_id": injection.patient_id,
        "index_injection_id": injection.pk,
        "source": "clinician",
        "onset_on": dt.date(2026, 3, 5),
        "category": "effusion",
        "description": "Swollen knee.",
        "severity": 2,
        "relatedness": "injection",
        "expectedness": "expected",
        "action_taken": "none",
        "outcome": "recovering",
        "recorded_by_id": clinician.pk,
        "recorded_at": recorded,
    }
    causalities = ["certain", "probable", "possible", "unlikely", "conditional", "unassessable"]
    ids = [old.objects.create(causality=c, **common).pk for c in causalities]
    history = old_apps.get_model("safety", "HistoricalAdverseEvent")
    history.objects.create(id=ids[0], causality="certain", history_date=recorded, history_type="+", version=1, **common)

    executor = migrated_to_latest()
    rows = {
        row["id"]: row
        for row in AdverseEvent.objects.filter(pk__in=ids).values(
            "id", "causality", "causality_product", "causality_procedure", "assessed_jointly", "aware_on"
        )
    }
    for pk, causality in zip(ids, causalities, strict=True):
        assert rows[pk] == {
            "id": pk,
            "causality": causality,
            "causality_product": causality,
            "causality_procedure": causality,
            "assessed_jointly": True,
            "aware_on": dt.date(2026, 3, 7),  # the recording day
        }
    past = AdverseEvent.history.get(id=ids[0])
    assert (past.causality_product, past.causality_procedure, past.assessed_jointly) == ("certain", "certain", True)


# --- septic arthritis below grade 3: a warning to confirm --------------------------------------------------------


def test_the_service_asks_to_confirm_and_keeps_the_confirmation(clinician, injection):
    with pytest.raises(services.UnconfirmedEventWarnings) as caught:
        record(clinician, injection, **SEPTIC_GRADE_2)
    assert caught.value.message_dict["acknowledged_warnings"] == [services.SEPTIC_LOW_GRADE]
    assert "usually grade 3 or more" in caught.value.message_dict["severity"][0]
    assert not AdverseEvent.objects.exists()
    event = services.adverse_event_record(
        by=clinician,
        data=event_data(injection, **SEPTIC_GRADE_2),
        acknowledged_warnings=[services.SEPTIC_LOW_GRADE],
    )
    assert event.severity == 2
    assert event.history.get().history_change_reason == "Recorded (confirmed: septic arthritis at grade 2)"
    assert record(clinician, injection, **SERIOUS).severity == 3  # grade 3: nothing to confirm


def test_a_correction_to_grade_2_asks_again_but_other_changes_do_not(clinician, injection):
    event = record(clinician, injection, **SERIOUS)
    with pytest.raises(services.UnconfirmedEventWarnings):
        services.adverse_event_correct(
            event=event, by=clinician, data={"severity": 2}, reason="Regraded", expected_version=1
        )
    event.refresh_from_db()
    assert (event.severity, event.version) == (3, 1)
    event = services.adverse_event_correct(
        event=event,
        by=clinician,
        data={"severity": 2},
        reason="Regraded",
        expected_version=1,
        acknowledged_warnings=[services.SEPTIC_LOW_GRADE],
    )
    assert event.history.latest("history_date").history_change_reason == (
        "Regraded (confirmed: septic arthritis at grade 2)"
    )
    event = services.adverse_event_correct(
        event=event, by=clinician, data={"outcome": "not_recovered"}, reason="Still swollen", expected_version=2
    )
    assert event.version == 3


def test_the_web_form_shows_the_warning_with_a_confirm_box(client, clinician, injection):
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={injection.patient.registry_number}"
    data = form_data(
        injection, category="septic_arthritis", severity="2", serious_hospitalisation="on", outcome="recovering"
    )
    data["outcome_on"] = ""
    response = client.post(url, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'name="acknowledged_warnings" value="event.septic_arthritis_grade"' in html
    assert "usually grade 3 or more" in html
    assert not AdverseEvent.objects.exists()
    response = client.post(url, {**data, "acknowledged_warnings": "event.septic_arthritis_grade"})
    assert response.status_code == 302
    assert AdverseEvent.objects.get().severity == 2


def test_the_api_answers_400_naming_the_code_to_confirm(api_as, clinician, injection):
    api = api_as(clinician)
    body = payload(
        injection,
        category="septic_arthritis",
        severity=2,
        serious_hospitalisation=True,
        outcome="recovering",
        outcome_on=None,
    )
    refused = api.post(URL, body, format="json")
    assert refused.status_code == 400
    assert refused.json()["acknowledged_warnings"] == ["event.septic_arthritis_grade"]
    assert "severity" in refused.json()
    accepted = api.post(URL, {**body, "acknowledged_warnings": ["event.septic_arthritis_grade"]}, format="json")
    assert accepted.status_code == 201, accepted.json()
    assert "acknowledged_warnings" not in accepted.json()


# --- dechallenge and rechallenge: staged plans only --------------------------------------------------------------


def test_dechallenge_is_refused_for_a_single_injection(clinician, injection):
    with pytest.raises(ValidationError) as caught:
        record(clinician, injection, dechallenge="yes")
    assert "staged plan" in caught.value.message_dict["dechallenge"][0]


def test_a_staged_plan_records_dechallenge_and_rechallenge(clinician, patient):
    staged = make_injection(patient, clinician, planned_injections=3)
    event = record(clinician, staged, dechallenge="yes", dechallenge_abated="yes", rechallenge="no")
    event.refresh_from_db()
    assert (event.dechallenge, event.dechallenge_abated, event.rechallenge, event.rechallenge_recurred) == (
        "yes",
        "yes",
        "no",
        "",
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"rechallenge": "no", "rechallenge_recurred": "yes"}, "rechallenge_recurred"),
        ({"rechallenge_recurred": "unknown"}, "rechallenge_recurred"),
        ({"dechallenge": "no", "dechallenge_abated": "yes"}, "dechallenge_abated"),
    ],
)
def test_outcomes_of_a_challenge_need_the_challenge(clinician, patient, fields, error):
    staged = make_injection(patient, clinician, planned_injections=2)
    with pytest.raises(ValidationError) as caught:
        record(clinician, staged, **fields)
    assert error in caught.value.message_dict
    assert not AdverseEvent.objects.exists()


def test_the_form_offers_the_challenge_questions_only_for_a_staged_plan(client, clinician, patient):
    single = make_injection(patient, clinician)
    client.force_login(clinician)
    url = reverse("safety:event-new") + f"?patient={patient.registry_number}"
    assert 'name="dechallenge"' not in client.get(url).content.decode()
    make_injection(patient, clinician, knee="right", planned_injections=2, injected_on=dt.date(2026, 3, 3))
    html = client.get(url).content.decode()
    assert 'name="dechallenge"' in html
    assert 'name="rechallenge_recurred"' in html
    assert f'value="{single.pk}"' in html  # the single injection is still offered beside it

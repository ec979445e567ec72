"""GET /api/v1/flags/: scoped to the user's clinics, filterable, read-only, with a constant number of queries."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safety.choices import FlagRule, FlagStatus
from safety.models import Flag
from safety.services import flag_dismiss, flags_evaluate
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/flags/"


@pytest.fixture
def flags(journey, other_clinic, outsider):
    """Mine: an urgent fever flag and a VAS flag for one patient, a swelling flag for another. Theirs: a fever flag
    in the other clinic."""
    first = journey()
    first.baseline()
    urgent, vas = flags_evaluate(first.one_month(**{"SAFETY.fever": "yes", "VAS.pain": "80"}).pk)
    swelling = flags_evaluate(journey().one_month(**{"SAFETY.swelling": "yes"}).pk)[0]
    theirs = flags_evaluate(
        journey(patient=PatientFactory(clinic=other_clinic), by=outsider).one_month(**{"SAFETY.fever": "yes"}).pk
    )[0]
    return {"urgent": urgent, "vas": vas, "swelling": swelling, "theirs": theirs}


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_lists_only_the_users_clinics_urgent_first(api_as, clinician, outsider, flags):
    assert ids(api_as(clinician).get(URL)) == [flags["urgent"].pk, flags["vas"].pk, flags["swelling"].pk]
    assert ids(api_as(outsider).get(URL)) == [flags["theirs"].pk]


def test_auditor_reads_but_cannot_write(api_as, auditor, flags):
    api = api_as(auditor)
    assert len(ids(api.get(URL))) == 3
    assert api.post(URL, {"rule": "vas_worse"}).status_code == 403
    assert api.patch(f"{URL}{flags['vas'].pk}/", {"status": "dismissed"}).status_code == 403


def test_read_only_for_clinicians_too(api_as, clinician, flags):
    api = api_as(clinician)
    assert api.post(URL, {"rule": "vas_worse"}).status_code == 405
    assert api.patch(f"{URL}{flags['vas'].pk}/", {"status": "dismissed"}).status_code == 405
    assert api.delete(f"{URL}{flags['vas'].pk}/").status_code == 405


def test_outsider_gets_404_for_another_clinics_flag(api_as, outsider, flags):
    assert api_as(outsider).get(f"{URL}{flags['vas'].pk}/").status_code == 404


def test_anonymous_is_refused(api, flags):
    assert api.get(URL).status_code in (401, 403)


def test_fields(api_as, clinician, flags):
    flag = flags["vas"]
    Flag.objects.filter(pk=flag.pk).update(raised_at=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC))
    with time_machine.travel(dt.datetime(2026, 4, 4, 12, tzinfo=dt.UTC), tick=False):
        row = api_as(clinician).get(f"{URL}{flag.pk}/").json()
    assert row == {
        "id": flag.pk,
        "clinic": flag.clinic_id,
        "patient": flag.patient_id,
        "patient_registry_number": flag.patient.registry_number,
        "follow_up": flag.follow_up_id,
        "timepoint": "1m",
        "rule": "vas_worse",
        "rule_label": "VAS pain worse than baseline",
        "kind": "worsening",
        "urgent": False,
        "values": flag.values,
        "status": "open",
        "dismissed_reason": "",
        "reviewed_by": None,
        "reviewed_at": None,
        "raised_at": "2026-04-01T10:00:00+01:00",
        "age_days": 3,
    }
    assert row["values"]["baseline"] == 30.0
    assert row["values"]["follow_up"] == 80.0


def test_filters(api_as, clinician, clinic, flags):
    api = api_as(clinician)
    urgent, vas, swelling = flags["urgent"], flags["vas"], flags["swelling"]
    flag_dismiss(flag=swelling, by=clinician, reason="Expected after injection")
    Flag.objects.filter(pk=urgent.pk).update(raised_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    Flag.objects.filter(pk=vas.pk).update(raised_at=dt.datetime(2026, 4, 10, tzinfo=dt.UTC))
    Flag.objects.filter(pk=swelling.pk).update(raised_at=dt.datetime(2026, 4, 20, tzinfo=dt.UTC))

    assert ids(api.get(URL, {"urgent": "true"})) == [urgent.pk]
    assert ids(api.get(URL, {"urgent": "false"})) == [vas.pk, swelling.pk]
    assert ids(api.get(URL, {"status": "dismissed"})) == [swelling.pk]
    assert ids(api.get(f"{URL}?status=open&status=in_review")) == [urgent.pk, vas.pk]
    assert ids(api.get(URL, {"rule": FlagRule.VAS_WORSE})) == [vas.pk]
    assert ids(api.get(URL, {"patient": urgent.patient_id})) == [urgent.pk, vas.pk]
    assert ids(api.get(URL, {"registry_number": swelling.patient.registry_number.lower()})) == [swelling.pk]
    assert ids(api.get(URL, {"clinic": clinic.pk})) == [urgent.pk, vas.pk, swelling.pk]
    assert ids(api.get(URL, {"clinic": flags["theirs"].clinic_id})) == []  # not theirs: nothing, not an error
    assert ids(api.get(URL, {"raised_after": "2026-04-05T00:00:00Z"})) == [vas.pk, swelling.pk]
    assert ids(api.get(URL, {"raised_before": "2026-04-15T00:00:00Z"})) == [urgent.pk, vas.pk]
    assert api.get(URL, {"status": "closed"}).status_code == 400
    assert api.get(URL, {"clinic": "1.5"}).status_code == 400


def test_paginated(api_as, clinician, flags):
    body = api_as(clinician).get(URL, {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_no_n_plus_one(api_as, clinician, journey, flags):
    api = api_as(clinician)
    api.get(URL)  # warm up per-user caches (e.g. whether the user is an administrator)
    with CaptureQueriesContext(connection) as few:
        assert len(ids(api.get(URL))) == 3
    for _ in range(4):
        flags_evaluate(journey().one_month(**{"SAFETY.fever": "yes", "SAFETY.care_gp": "yes"}).pk)
    with CaptureQueriesContext(connection) as many:
        assert len(ids(api.get(URL))) == 11
    assert len(many) == len(few)


def test_dismissed_flag_shows_who_and_why(api_as, clinician, flags):
    flag_dismiss(flag=flags["swelling"], by=clinician, reason="Known effusion, aspirated in clinic")
    row = api_as(clinician).get(f"{URL}{flags['swelling'].pk}/").json()
    assert (row["status"], row["dismissed_reason"], row["reviewed_by"]) == (
        FlagStatus.DISMISSED,
        "Known effusion, aspirated in clinic",
        clinician.pk,
    )

"""GET /api/v1/follow-ups/: the contract, filters, scoping, derived measures and a fixed query count."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.models import Timepoint
from outcomes.services import questionnaire_submit, submission_amend
from tests.factories import PatientFactory, make_injection
from tests.support.answers import answers_for
from tests.support.clock import travel_to
from tests.support.journeys import follow_up

URL = "/api/v1/follow-ups/"


def rows(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_lists_an_injections_follow_ups(api_as, clinician, recorded, patient):
    data = rows(api_as(clinician).get(URL, {"injection": recorded.pk}))
    assert [r["timepoint"] for r in data] == ["baseline", "d3", "d12", "1m", "6m", "12m", "24m"]  # BMAC: to 24 months
    base = data[0]
    assert base == {
        "id": base["id"],
        "plan": recorded.plan_id,
        "patient": patient.pk,
        "clinic": patient.clinic_id,
        "timepoint": "baseline",
        "knee": "left",
        "product": "bmac",
        "injected_on": "2026-03-02",
        "opens_on": "2026-03-01",
        "due_on": "2026-03-02",
        "closes_on": "2026-03-05",
        "status": "open",
        "scores": None,
        "oks_imputed": None,
        "submitted_at": None,
        "source": None,
        "late": None,
        "amended": None,
        "change_from_baseline": None,
        "mcid_reached": None,
        "responder": None,
        "responder_criterion": None,
    }
    assert (data[1]["opens_on"], data[1]["closes_on"]) == ("2026-03-04", "2026-03-06")  # day 2-3 safety check
    assert data[3]["opens_on"] == "2026-03-30"
    assert data[3]["closes_on"] == "2026-04-23"


def test_completed_follow_ups_carry_scores_and_derived_measures(api_as, clinician, recorded, baseline):
    data = answers_for(baseline)
    data.update({k: "2" for k in data if k.startswith(("KOOS.", "OKS."))})
    data.update({"VAS.pain": "70", "PGA.global": "60"})
    questionnaire_submit(follow_up=baseline, data=data)
    one_month = follow_up(recorded, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        later = answers_for(one_month)
        later.update({k: "1" for k in later if k.startswith("KOOS.")})
        later.update({k: "3" for k in later if k.startswith("OKS.")})
        later.update({"VAS.pain": "65", "PGA.global": "55"})
        questionnaire_submit(follow_up=one_month, data=later)
        base, _, _, month, six, _, _ = rows(api_as(clinician).get(URL, {"injection": recorded.pk}))

    assert base["status"] == "completed"
    assert base["scores"]["koos.pain"] == 50.0
    assert base["scores"]["oks.total"] == 24.0
    assert base["scores"]["vas.pain"] == 70.0
    assert base["source"] == "patient_link"
    assert base["submitted_at"].startswith("2026-03-01T")
    assert base["change_from_baseline"] is None  # nothing to compare a baseline with

    assert month["scores"]["koos.pain"] == 75.0
    assert month["change_from_baseline"]["koos.pain"] == 25.0
    assert month["change_from_baseline"]["oks.total"] == 12.0
    assert month["change_from_baseline"]["vas.pain"] == -5.0
    assert month["mcid_reached"]["koos.pain"] is True
    assert month["mcid_reached"]["oks.total"] is True
    assert month["mcid_reached"]["vas.pain"] is False  # 5 mm is under the 20 mm MCID
    # Pain 50 -> 25 (worse-up 100 - KOOS Pain): -50 %, -25 points: criterion A.
    assert (month["responder"], month["responder_criterion"]) == (True, "A")
    assert six["scores"] is None
    assert six["responder"] is None


def test_scores_are_the_current_values_after_an_amendment(api_as, clinician, recorded, baseline):
    submission = questionnaire_submit(follow_up=baseline, data=answers_for(baseline, **{"VAS.pain": "80"}))
    submission_amend(
        submission=submission, by=clinician, data=answers_for(baseline, **{"VAS.pain": "8"}), reason="Typo"
    )
    base = rows(api_as(clinician).get(URL, {"injection": recorded.pk}))[0]
    assert base["scores"]["vas.pain"] == 8.0
    assert base["amended"] is True


def test_any_injection_of_a_staged_plan_finds_the_plans_follow_ups(api_as, clinician, clock, patient):
    first = make_injection(patient, clinician, planned_injections=2)
    with travel_to(dt.date(2026, 3, 16)):
        second = make_injection(
            patient, clinician, planned_injections=2, number_in_plan=2, injected_on=dt.date(2026, 3, 16)
        )
        data = rows(api_as(clinician).get(URL, {"injection": second.pk}))
    assert {r["plan"] for r in data} == {first.plan_id}
    assert len(data) == 7  # baseline, two safety checks, 1-24 months


def test_filters(api_as, clinician, recorded, patient, clinic):
    client = api_as(clinician)
    assert [r["timepoint"] for r in rows(client.get(URL, {"timepoint": "6m"}))] == ["6m"]
    assert [r["timepoint"] for r in rows(client.get(URL, {"status": "open"}))] == ["baseline"]
    assert len(rows(client.get(URL, {"patient": patient.pk}))) == 7
    assert len(rows(client.get(URL, {"clinic": clinic.pk}))) == 7
    assert [r["timepoint"] for r in rows(client.get(URL, {"timepoint": "24m"}))] == ["24m"]
    assert rows(client.get(URL, {"patient": patient.pk + 1000})) == []
    assert client.get(URL, {"timepoint": "2y"}).status_code == 400
    assert client.get(URL, {"injection": "abc"}).status_code == 400


def test_outsider_sees_nothing(api_as, outsider, recorded):
    client = api_as(outsider)
    assert rows(client.get(URL)) == []
    assert rows(client.get(URL, {"injection": recorded.pk})) == []
    fu = follow_up(recorded)
    assert client.get(f"{URL}{fu.pk}/").status_code == 404


def test_auditor_reads_and_cannot_write(api_as, auditor, recorded):
    client = api_as(auditor)
    assert len(rows(client.get(URL, {"injection": recorded.pk}))) == 7
    assert client.post(URL, {}).status_code in (403, 405)


def test_anonymous_is_refused(api, recorded):
    assert api.get(URL).status_code in (401, 403)


def test_no_writes_through_the_api(api_as, clinician, recorded):
    fu = follow_up(recorded)
    client = api_as(clinician)
    assert client.post(URL, {}).status_code == 405
    assert client.patch(f"{URL}{fu.pk}/", {"status": "completed"}).status_code == 405
    assert client.delete(f"{URL}{fu.pk}/").status_code == 405


def _completed(patient, clinician, knee):
    with travel_to(dt.date(2026, 3, 1)):
        injection = make_injection(patient, clinician, knee=knee)
        base = follow_up(injection)
        questionnaire_submit(follow_up=base, data=answers_for(base))
    one_month = follow_up(injection, Timepoint.ONE_MONTH)
    with travel_to(one_month.due_on):
        questionnaire_submit(follow_up=one_month, data=answers_for(one_month))


def _count(api_as, user):
    from django.contrib.auth import get_user_model

    client = api_as(get_user_model().objects.get(pk=user.pk))  # nothing cached on the user
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"timepoint": "1m"})
    return len(queries), rows(response)


def test_one_row_and_ten_rows_take_the_same_queries(api_as, clinician, clinic):
    _completed(PatientFactory(clinic=clinic), clinician, "left")
    one, data = _count(api_as, clinician)
    assert len(data) == 1
    assert data[0]["change_from_baseline"] is not None
    for i in range(9):
        _completed(PatientFactory(clinic=clinic), clinician, "right" if i % 2 else "left")
    ten, data = _count(api_as, clinician)
    assert len(data) == 10
    assert all(r["change_from_baseline"] is not None for r in data)
    assert one == ten

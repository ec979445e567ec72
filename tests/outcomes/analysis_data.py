"""Test data for the outcome analysis: plans made by the real injection service (which schedules their
follow-ups), with Submission rows written directly with known score columns, for speed and exact numbers."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from outcomes.models import FollowUp, FollowUpStatus, Submission, SubmissionSource
from registry.models import TreatmentPlan
from tests.factories import PatientFactory, make_injection

COLUMNS = ("koos_pain", "koos_symptoms", "koos_adl", "koos_sport_rec", "koos_qol", "oks_total", "vas_pain")
SHORT = {"pain": "koos_pain", "adl": "koos_adl", "vas": "vas_pain", "oks": "oks_total", "pga": "patient_global"}


def submit_scores(follow_up: FollowUp, **scores) -> Submission:
    """A completed questionnaire with the given score columns (short names allowed: pain, adl, vas, oks, pga)."""
    columns = {SHORT.get(k, k): v for k, v in scores.items()}
    submission = Submission.objects.create(
        follow_up=follow_up,
        clinic_id=follow_up.clinic_id,
        timepoint=follow_up.timepoint,
        # Answered on the day it was due, so a patient's trajectory spreads over time as it would.
        submitted_at=dt.datetime.combine(follow_up.due_on, dt.time(12), tzinfo=dt.UTC),
        source=SubmissionSource.STAFF_ENTERED,
        answers={},
        instrument_versions={},
        scores={},
        **columns,
    )
    FollowUp.objects.filter(pk=follow_up.pk).update(status=FollowUpStatus.COMPLETED)
    return submission


def make_plan(
    clinic,
    clinician,
    *,
    patient=None,
    scores: dict[str, dict | None] | None = None,
    statuses: dict[str, str] | None = None,
    due: dict[str, dt.date] | None = None,
    **injection,
) -> TreatmentPlan:
    """One plan (first injection via registry.services) with submissions at the timepoints in ``scores`` and the
    other follow-ups set to ``statuses`` (default missed); ``due`` moves due dates (e.g. for "open past due")."""
    patient = patient or PatientFactory(clinic=clinic)
    first = make_injection(patient, clinician, **injection)
    plan = first.plan
    follow_ups = {f.timepoint: f for f in FollowUp.objects.filter(plan=plan)}
    for timepoint, follow_up in follow_ups.items():
        if due and timepoint in due:
            day = due[timepoint]
            FollowUp.objects.filter(pk=follow_up.pk).update(opens_on=day, due_on=day, closes_on=day)
        if scores and scores.get(timepoint) is not None:
            follow_up.refresh_from_db()
            submit_scores(follow_up, **scores[timepoint])
        else:
            status = (statuses or {}).get(timepoint, FollowUpStatus.MISSED)
            FollowUp.objects.filter(pk=follow_up.pk).update(status=status)
    return plan


def bulk_pairs(
    clinic, clinician, pairs, *, timepoint: str = "1m", product: str = "bmac", kl_grade: int = 2, age: int = 66
) -> list[int]:
    """Many plans fast (bulk inserts, no history rows): one per (baseline scores, follow-up scores) pair, either
    side None for a missing questionnaire, all with the same product, KL grade and age. Returns the plan ids in
    order."""
    from registry.models import Injection, Patient

    n = len(pairs)
    day = dt.date(2026, 3, 2)
    patients = Patient.objects.bulk_create(
        [
            Patient(clinic=clinic, year_of_birth=1960, consent_on=dt.date(2026, 1, 5), consent_version="v1")
            for _ in range(n)
        ]
    )
    plans = TreatmentPlan.objects.bulk_create(
        [TreatmentPlan(patient=p, knee="left", product=product, planned_injections=1) for p in patients]
    )
    Injection.objects.bulk_create(
        [
            Injection(
                patient=p,
                plan=plan,
                number_in_plan=1,
                knee="left",
                injected_on=day,
                clinician=clinician,
                product=product,
                guidance="ultrasound",
                volume_ml=5,
                rehabilitation="home",
                kl_grade=kl_grade,
                age_at_injection=age,
            )
            for p, plan in zip(patients, plans, strict=True)
        ]
    )
    follow_ups = []
    for p, plan in zip(patients, plans, strict=True):
        for tp in ("baseline", timepoint):
            follow_ups.append(
                FollowUp(
                    plan=plan,
                    patient=p,
                    clinic=clinic,
                    timepoint=tp,
                    opens_on=day,
                    due_on=day,
                    closes_on=day,
                    status=FollowUpStatus.MISSED,
                )
            )
    follow_ups = FollowUp.objects.bulk_create(follow_ups)
    submissions = []
    now = timezone.now()
    for i, (baseline, follow) in enumerate(pairs):
        for follow_up, scores in ((follow_ups[2 * i], baseline), (follow_ups[2 * i + 1], follow)):
            if scores is None:
                continue
            follow_up.status = FollowUpStatus.COMPLETED
            submissions.append(
                Submission(
                    follow_up=follow_up,
                    clinic=clinic,
                    timepoint=follow_up.timepoint,
                    submitted_at=now,
                    source=SubmissionSource.STAFF_ENTERED,
                    answers={},
                    instrument_versions={},
                    scores={},
                    **{SHORT.get(k, k): v for k, v in scores.items()},
                )
            )
    Submission.objects.bulk_create(submissions)
    FollowUp.objects.bulk_update(follow_ups, ["status"])
    return [plan.pk for plan in plans]

"""Consultation data for tests: a proceeding BMAC consultation of the left knee on 20 Feb 2026, and the same as
the form posts it."""

import datetime as dt

from consultations.services import consultation_record


def consultation_data(**overrides) -> dict:
    data = {
        "knee": "left",
        "consulted_on": dt.date(2026, 2, 20),
        "kl_grade": 2,
        "bmi": 27.5,
        "alignment": "varus",
        "alignment_degrees": 3,
        "activity_level": 4,
        "pathology": ["meniscal_tear"],
        "previous_treatments": ["physiotherapy", "analgesia", "nsaid"],
        "indications": ["pain_despite_exercise", "early_oa", "realistic_expectations"],
        "reasons_against": [],
        "alternatives_discussed": ["exercise", "weight", "ha", "prp", "no_treatment"],
        "reasoning": "Medial pain despite 4 months of supervised exercise; KL 2.",
        "decision": "proceed",
        "proposed_product": "bmac",
        "fallback_offer": ["physiotherapy", "surgical_referral"],
    }
    data.update(overrides)
    return data


def advise_against(**overrides) -> dict:
    """A consultation that advises against an injection (KL 4, referred for a surgical opinion)."""
    return consultation_data(
        **{
            "kl_grade": 4,
            "indications": [],
            "reasons_against": ["kl_4", "mechanical"],
            "decision": "advise_against",
            "proposed_product": "",
            "referred_to": "Surgical opinion",
            "fallback_offer": [],
            **overrides,
        }
    )


def make_consultation(patient, clinician, **overrides):
    acknowledged = overrides.pop("acknowledged_warnings", ())
    return consultation_record(
        patient=patient, by=clinician, data=consultation_data(**overrides), acknowledged_warnings=acknowledged
    )


def form_data(who, **overrides) -> dict:
    """The consultation form's POST: every value as typed, lists as repeated keys."""
    data = {
        "knee": "left",
        "consulted_on": "2026-02-20",
        "clinician": who.pk,
        "kl_grade": "2",
        "bmi_status": "measured",
        "bmi": "27.5",
        "alignment": "varus",
        "alignment_degrees": "3",
        "activity_level": "4",
        "pathology": ["meniscal_tear"],
        "previous_treatments": ["physiotherapy", "analgesia"],
        "indications": ["pain_despite_exercise", "early_oa"],
        "alternatives_discussed": ["exercise", "weight", "prp"],
        "reasoning": "Pain despite exercise.",
        "decision": "proceed",
        "proposed_product": "bmac",
        "review_after_months": "6",
        "not_improved_rule": "mcid_or_responder",
        "fallback_offer": ["physiotherapy"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_review(plan, clinician, **overrides):
    """A fallback review of ``plan`` written with the ORM (the recording service is another change's): by default
    not improved, physiotherapy offered and taken, reviewed on 1 Sep 2026."""
    from consultations.models import FallbackReview

    fields = {
        "reviewed_on": dt.date(2026, 9, 1),
        "finding": "not_improved",
        "offered": ["physiotherapy"],
        "offered_product": "",
        "path_taken": "physiotherapy",
        "notes": "",
        **overrides,
    }
    review = FallbackReview(plan=plan, clinician=clinician, created_by=clinician, **fields)
    review.full_clean(exclude=["finding"])
    review.save()
    return review

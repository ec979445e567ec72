"""Helpers for the adverse-event and export tests: event data as the services take it, and recorded events."""

import datetime as dt

from safety import services

ONSET = dt.date(2026, 3, 5)


def event_data(injection, **overrides) -> dict:
    data = {
        "patient": injection.patient,
        "injections": [injection],
        "source": "clinician",
        "onset_on": ONSET,
        "category": "effusion",
        "description": "Warm swollen knee three days after the injection; aspirated 20 mL, cultures negative.",
        "severity": 2,
        "causality_product": "probable",
        "causality_procedure": "probable",
        "relatedness": "injection",
        "expectedness": "expected",
        "action_taken": "aspiration",
        "outcome": "recovered",
        "outcome_on": dt.date(2026, 3, 20),
    }
    data.update(overrides)
    return data


SERIOUS = {
    "category": "septic_arthritis",
    "severity": 3,
    "serious_hospitalisation": True,
    "causality_product": "possible",
    "causality_procedure": "unlikely",
    "expectedness": "unexpected",
    "action_taken": "surgery",
    "outcome": "recovering",
    "outcome_on": None,
}


def record(by, injection, **overrides):
    return services.adverse_event_record(by=by, data=event_data(injection, **overrides))


def record_serious(by, injection, **overrides):
    return record(by, injection, **{**SERIOUS, **overrides})


PRP_PROTOCOL = {"leukocytes": "poor", "spins": 2, "activation": "none"}


# --- SUSAR candidates (issue 15) ---------------------------------------------------------------------------------

AWARE = dt.date(2026, 3, 6)  # day 0 of the reporting clocks in these tests


def make_study_injection(patient, clinician, **overrides):
    """An exosome injection given under a registered study (governance on file): a study product."""
    from tests.factories import EXOSOME_PROTOCOL, GOVERNANCE, make_injection

    return make_injection(
        patient,
        clinician,
        product="exosome",
        protocol=dict(EXOSOME_PROTOCOL),
        governance=dict(GOVERNANCE),
        **overrides,
    )


def susar(by, injection, **overrides):
    """A SUSAR candidate after a study injection: serious (hospitalised), unexpected, possibly related to the
    product, known on AWARE."""
    data = {
        **SERIOUS,
        "category": "effusion",
        "causality_product": "possible",
        "causality_procedure": "unlikely",
        "aware_on": AWARE,
        **overrides,
    }
    return record(by, injection, **data)

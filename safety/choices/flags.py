"""Vocabularies of the safety app. Plain TextChoices (no models), so the pure rules can use them too."""

from django.db import models

from outcomes.measures import MEASURES


class FlagRule(models.TextChoices):
    SAFETY_INFECTION_SIGNS = "safety_infection_signs", "Signs of infection (red or hot knee, or fever)"
    SAFETY_HOSPITAL_ADMISSION = "safety_hospital_admission", "Hospital admission"
    SAFETY_SWELLING = "safety_swelling", "New swelling of the knee"
    SAFETY_UNABLE_TO_BEAR_WEIGHT = "safety_unable_bear_weight", "Unable to bear weight on the treated leg"
    SWELLING_WITH_PAIN_WORSE = "swelling_with_pain_worse", "Swelling with VAS pain 20 mm or more worse"
    SAFETY_MEDICAL_CARE = "safety_medical_care", "Sought medical care (GP or emergency department)"
    SAFETY_HARVEST_SITE = "safety_harvest_site", "Problem at the harvest site (bone marrow or fat)"
    # The early safety checks' own questions (issue 15).
    SAFETY_CLOT_SIGNS = "safety_clot_signs", "Signs of a blood clot (calf pain or swelling, breathlessness, chest pain)"
    SAFETY_ALLERGIC_REACTION = "safety_allergic_reaction", "Swelling of the face, lips or tongue, or trouble breathing"
    SAFETY_PUNCTURE_SITE = "safety_puncture_site", "Discharge or redness where the needle went in"
    SAFETY_FEELING_UNWELL = "safety_feeling_unwell", "Felt generally unwell"
    SAFETY_RASH = "safety_rash", "New rash, hives or itching"
    SAFETY_NUMBNESS = "safety_numbness", "New numbness, tingling or weakness in the leg"
    SAFETY_BLOOD_GLUCOSE = "safety_blood_glucose", "Blood sugar higher than usual after a steroid (diabetes)"
    SAFETY_OTHER_REPORT = "safety_other_report", "Patient's own report (free text)"
    VAS_WORSE = "vas_worse", "VAS pain worse than baseline"
    KOOS_PAIN_WORSE = "koos_pain_worse", "KOOS Pain worse than baseline"
    OKS_WORSE = "oks_worse", "Oxford Knee Score worse than baseline"


class FlagKind(models.TextChoices):
    SAFETY = "safety", "Safety flag"
    WORSENING = "worsening", "Worsening signal"


# Scores worse than baseline beyond measurement error (VAS +20 mm, KOOS Pain -10, OKS -5; sources in
# outcomes.measures): an efficacy signal, that the treatment is not working, not a sign of harm. Kept apart from
# safety flags everywhere flags are listed or counted (issue 15). Derived from the rule code, so no stored flag
# changes: the urgent combinations (swelling with pain 20 mm worse, unable to bear weight) stay safety flags.
WORSENING_SIGNAL_RULES = frozenset({FlagRule.VAS_WORSE, FlagRule.KOOS_PAIN_WORSE, FlagRule.OKS_WORSE})
SAFETY_FLAG_RULES = frozenset(FlagRule.values) - WORSENING_SIGNAL_RULES


def flag_kind(rule: str) -> str:
    return FlagKind.WORSENING if rule in WORSENING_SIGNAL_RULES else FlagKind.SAFETY


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    EVENT_RECORDED = "event_recorded", "Adverse event recorded"
    DISMISSED = "dismissed", "Dismissed"


# Statuses still waiting for a clinician's decision: the inbox shows these by default.
ACTIVE_STATUSES = (FlagStatus.OPEN, FlagStatus.IN_REVIEW)

# Allowed moves. Recording an event and dismissing are decisions: final, corrected only through the adverse-event
# workflow (issue 5), never by reopening the flag.
TRANSITIONS: dict[str, frozenset[str]] = {
    FlagStatus.OPEN: frozenset({FlagStatus.IN_REVIEW, FlagStatus.EVENT_RECORDED, FlagStatus.DISMISSED}),
    FlagStatus.IN_REVIEW: frozenset({FlagStatus.EVENT_RECORDED, FlagStatus.DISMISSED}),
    FlagStatus.EVENT_RECORDED: frozenset(),
    FlagStatus.DISMISSED: frozenset(),
}

# Short names of the safety-check items, for flag summaries (the questions themselves are in the instrument).
SAFETY_ITEM_LABELS = {
    "swelling": "more swollen",
    "redness_heat": "red or hot knee",
    "fever": "fever or shivering",
    "unable_to_bear_weight": "unable to bear weight",
    "care_gp": "saw a GP or doctor",
    "care_ed": "went to an emergency department",
    "hospital_admission": "admitted to hospital",
    "harvest_site_problem": "problem at the harvest site",
    "other": "wrote",
}
# Short names of the measures, for flag summaries ("VAS pain 30 → 52").
MEASURE_LABELS = {m.name: m.short_label for m in MEASURES}

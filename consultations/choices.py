"""Vocabularies of the consultation record (issue 16). Each is stored as codes: a choice field, or a JSON list of
codes for the multiple-choice answers (validated in consultations.models, so SQLite works too)."""

from django.db import models

from registry.choices import PreviousTreatment as InjectionPreviousTreatment


class Decision(models.TextChoices):
    PROCEED = "proceed", "Proceed with an injection"
    ADVISE_AGAINST = "advise_against", "Advise against an injection"
    UNDECIDED = "undecided", "Undecided"


class PreviousTreatment(models.TextChoices):
    # The codes an injection also records (registry.choices.PreviousTreatment) are the same codes, so they carry
    # over to the injection form; the others are the consultation's own.
    PHYSIOTHERAPY = "physiotherapy", "Physiotherapy / exercise"
    WEIGHT_LOSS = "weight_loss", "Weight management"
    ANALGESIA = "analgesia", "Analgesia (e.g. paracetamol)"
    NSAID = "nsaid", "NSAIDs"
    BRACE = "brace", "Bracing"
    STEROID_INJECTION = "steroid_injection", "Corticosteroid injection"
    HA_INJECTION = "ha_injection", "Hyaluronic acid injection"
    PRP_INJECTION = "prp_injection", "PRP injection"
    BMAC_INJECTION = "bmac_injection", "BMAC injection"
    OTHER_INJECTION = "other_injection", "Other injection"
    ARTHROSCOPY = "arthroscopy", "Arthroscopy"
    OSTEOTOMY = "osteotomy", "Osteotomy"
    NONE = "none", "None"


# Previous treatments an injection record can hold too (what "Record the injection" carries over).
CARRIED_TO_INJECTION = tuple(code for code in PreviousTreatment.values if code in InjectionPreviousTreatment.values)


class Indication(models.TextChoices):
    PAIN_DESPITE_EXERCISE = "pain_despite_exercise", "Pain despite at least 3 months of exercise therapy"
    EARLY_OA = "early_oa", "Early to moderate OA (KL grade 1-3)"
    FUNCTION_LIMITED = "function_limited", "Pain limits daily activities or sport"
    NO_EFFUSION = "no_effusion", "No effusion on the day"
    NO_MECHANICAL = "no_mechanical", "No mechanical symptoms (locking, giving way)"
    ALIGNMENT_ACCEPTABLE = "alignment_acceptable", "Alignment acceptable (no marked malalignment)"
    CONSERVATIVE_TRIED = "conservative_tried", "Weight management and analgesia already tried"
    REALISTIC_EXPECTATIONS = "realistic_expectations", "Realistic expectations of benefit"
    WISHES_TO_DELAY_SURGERY = "wishes_to_delay_surgery", "Wishes to delay or avoid surgery"


class ReasonAgainst(models.TextChoices):
    KL_4 = "kl_4", "End-stage OA (KL grade 4)"
    MALALIGNMENT = "malalignment", "Marked malalignment"
    MECHANICAL = "mechanical", "Mechanical symptoms or locking"
    INFLAMMATORY = "inflammatory", "Inflammatory arthritis"
    INFECTION_RISK = "infection_risk", "Infection risk"
    SKIN_LESION = "skin_lesion", "Active skin lesion at the injection site"
    ANTICOAGULATION = "anticoagulation", "Anticoagulation not managed"
    UNREALISTIC_EXPECTATIONS = "unrealistic_expectations", "Unrealistic expectations"
    OTHER = "other", "Other (say which in the reasoning)"


class Alternative(models.TextChoices):
    EXERCISE = "exercise", "Exercise therapy and physiotherapy"
    WEIGHT = "weight", "Weight management"
    ANALGESIA = "analgesia", "Analgesia"
    BRACING = "bracing", "Bracing"
    STEROID = "steroid", "Corticosteroid injection"
    HA = "ha", "Hyaluronic acid injection"
    PRP = "prp", "PRP injection"
    BMAC = "bmac", "BMAC injection"
    SURGICAL_OPINION = "surgical_opinion", "Surgical opinion"
    NO_TREATMENT = "no_treatment", "No treatment"


class NotImprovedRule(models.TextChoices):
    MCID_OR_RESPONDER = (
        "mcid_or_responder",
        "Below the MCID in KOOS Pain or OKS, or not an OMERACT-OARSI responder",
    )
    MCID_KOOS_PAIN = "mcid_koos_pain", "Below the MCID in KOOS Pain"
    MCID_OKS = "mcid_oks", "Below the MCID in OKS"
    NOT_RESPONDER = "not_responder", "Not an OMERACT-OARSI responder"
    PATIENT_JUDGEMENT = "patient_judgement", "The patient reports no worthwhile improvement"


class FallbackOffer(models.TextChoices):
    PHYSIOTHERAPY = "physiotherapy", "Physiotherapy"
    REPEAT_INJECTION = "repeat_injection", "Repeat injection"
    ANOTHER_PRODUCT = "another_product", "Another product"
    SURGICAL_REFERRAL = "surgical_referral", "Surgical referral"
    NOTHING = "nothing", "Nothing further"


# The multiple-choice answers: field -> vocabulary, and the one code that excludes every other (None: no such code).
MULTIPLE_CHOICES: dict[str, tuple[type[models.TextChoices], str | None]] = {
    "previous_treatments": (PreviousTreatment, PreviousTreatment.NONE),
    "indications": (Indication, None),
    "reasons_against": (ReasonAgainst, None),
    "alternatives_discussed": (Alternative, None),
    "fallback_offer": (FallbackOffer, FallbackOffer.NOTHING),
}

DEFAULT_REVIEW_AFTER_MONTHS = 6


class ReviewFinding(models.TextChoices):
    """Why a course is on the review list at its review point (consultations.reviews decides; a review keeps what
    was found when it was recorded)."""

    NOT_IMPROVED = "not_improved", "Not improved by the plan's rule"
    NO_FOLLOW_UP = "no_follow_up", "Follow-up missing"
    IMPROVED = "improved", "Improved (reviewed anyway)"
    # The plan's rule is the patient's own judgement, which no questionnaire asks (consultations.reviews).
    ASK_PATIENT = "ask_patient", "Ask the patient (their judgement is the plan's rule)"


class PathTaken(models.TextChoices):
    """What the patient did about the offer: one of the offers (FallbackOffer's codes), or none of them yet."""

    PHYSIOTHERAPY = FallbackOffer.PHYSIOTHERAPY.value, "Took physiotherapy"
    REPEAT_INJECTION = FallbackOffer.REPEAT_INJECTION.value, "Took a repeat injection"
    ANOTHER_PRODUCT = FallbackOffer.ANOTHER_PRODUCT.value, "Took another product"
    SURGICAL_REFERRAL = FallbackOffer.SURGICAL_REFERRAL.value, "Took the surgical referral"
    NOTHING = FallbackOffer.NOTHING.value, "Nothing further (as offered)"
    DECLINED = "declined", "Declined what was offered"
    UNDECIDED = "undecided", "Not decided yet"


# Offers that are a new course of injections: the review names the product, and the new course links back to the
# one reviewed (registry.models.TreatmentPlan.repeat_of).
INJECTION_OFFERS = (FallbackOffer.REPEAT_INJECTION, FallbackOffer.ANOTHER_PRODUCT)

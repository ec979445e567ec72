"""Vocabularies of adverse events (standards.md section 6): ICH E2A seriousness, CTCAE grades, WHO-UMC causality,
outcomes with their E2B(R3), E2B(R2) and FHIR R4 codes in one table, and the knee-injection event catalogue."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from registry import selection
from registry.choices import PRODUCTS_WITH_HARVEST


class EventSource(models.TextChoices):
    PATIENT_REPORTED = "patient_reported", "Reported by the patient"
    CLINICIAN = "clinician", "Seen or reported by a clinician"
    RULE = "rule", "Raised by a flag rule"


class EventCategory(models.TextChoices):
    # Joint / injection site
    POST_INJECTION_FLARE = "post_injection_flare", "Post-injection flare"
    EFFUSION = "effusion", "Effusion / swelling"
    SEPTIC_ARTHRITIS = "septic_arthritis", "Septic arthritis"
    PSEUDOSEPTIC_REACTION = "pseudoseptic_reaction", "Pseudoseptic reaction"
    HAEMARTHROSIS = "haemarthrosis", "Haemarthrosis"
    INJECTION_SITE_PAIN = "injection_site_pain", "Injection-site pain or bruising"
    CELLULITIS = "cellulitis", "Cellulitis"
    CRYSTAL_FLARE = "crystal_flare", "Crystal flare (gout or pseudogout)"
    FAT_ATROPHY = "fat_atrophy", "Fat atrophy or skin depigmentation"
    # Bone (codes fit the 24-character column; the label carries the full name)
    OSTEOMYELITIS = "osteomyelitis", "Osteomyelitis after intraosseous delivery"
    SUBCHONDRAL_BONE = "subchondral_bone", "Subchondral insufficiency fracture, osteonecrosis or rapid progression"
    # Harvest site (BMAC, ADSC)
    HARVEST_PAIN = "harvest_pain", "Harvest-site pain"
    HARVEST_HAEMATOMA = "harvest_haematoma", "Harvest-site haematoma"
    HARVEST_INFECTION = "harvest_infection", "Harvest-site infection"
    HARVEST_NERVE = "harvest_nerve", "Harvest-site nerve irritation"
    # Systemic
    VASOVAGAL = "vasovagal", "Vasovagal reaction"
    ALLERGIC = "allergic", "Allergic reaction"
    HYPERGLYCAEMIA = "hyperglycaemia", "Hyperglycaemia"
    FEVER_SYSTEMIC = "fever_systemic", "Fever / systemic illness"
    DVT_PE = "dvt_pe", "Deep vein thrombosis or pulmonary embolism"
    SEDATION_EVENT = "sedation_event", "Sedation event"
    ALLOGENEIC_REACTION = "allogeneic_reaction", "Reaction to an allogeneic (donor) product"
    OTHER = "other", "Other (describe)"


CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "Joint / injection site": (
        EventCategory.POST_INJECTION_FLARE,
        EventCategory.EFFUSION,
        EventCategory.SEPTIC_ARTHRITIS,
        EventCategory.PSEUDOSEPTIC_REACTION,
        EventCategory.HAEMARTHROSIS,
        EventCategory.INJECTION_SITE_PAIN,
        EventCategory.CELLULITIS,
        EventCategory.CRYSTAL_FLARE,
        EventCategory.FAT_ATROPHY,
    ),
    "Bone": (
        EventCategory.OSTEOMYELITIS,
        EventCategory.SUBCHONDRAL_BONE,
    ),
    "Harvest site (bone marrow or fat)": (
        EventCategory.HARVEST_PAIN,
        EventCategory.HARVEST_HAEMATOMA,
        EventCategory.HARVEST_INFECTION,
        EventCategory.HARVEST_NERVE,
    ),
    "Systemic": (
        EventCategory.VASOVAGAL,
        EventCategory.ALLERGIC,
        EventCategory.HYPERGLYCAEMIA,
        EventCategory.FEVER_SYSTEMIC,
        EventCategory.DVT_PE,
        EventCategory.SEDATION_EVENT,
        EventCategory.ALLOGENEIC_REACTION,
        EventCategory.OTHER,
    ),
}
HARVEST_CATEGORIES = CATEGORY_GROUPS["Harvest site (bone marrow or fat)"]


def has_harvest(products: Iterable[str]) -> bool:
    """Whether any of these injections' products came with a harvest (registry.choices.PRODUCTS_WITH_HARVEST)."""
    return any(p in PRODUCTS_WITH_HARVEST for p in products)


def allowed_categories(products: Iterable[str]) -> list[str]:
    """Event categories an event after injections of these products may have: harvest-site ones need a harvest."""
    harvest = has_harvest(products)
    return [c for c in EventCategory.values if harvest or c not in HARVEST_CATEGORIES]


def grouped_category_choices(products: Iterable[str] | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """For a <select> with <optgroup>s; only what these products allow (every category when None)."""
    allowed = set(EventCategory.values if products is None else allowed_categories(products))
    groups = [
        (group, [(c, EventCategory(c).label) for c in codes if c in allowed])
        for group, codes in CATEGORY_GROUPS.items()
    ]
    return [(group, choices) for group, choices in groups if choices]


class Severity(models.IntegerChoices):
    """CTCAE v5.0 generic grades (intensity, not seriousness)."""

    MILD = 1, "Grade 1 — mild: observation only"
    MODERATE = 2, "Grade 2 — moderate: minimal, local or non-invasive intervention"
    SEVERE = 3, "Grade 3 — severe or medically significant; hospitalisation indicated"
    LIFE_THREATENING = 4, "Grade 4 — life-threatening: urgent intervention"
    DEATH = 5, "Grade 5 — death related to the event"


# ICH E2A criteria, as (field, label, FHIR R4 adverse-event-seriousness sub-code). Stored as six booleans
# (E2B(R3) E.i.3.2a-f); any one makes the event serious.
SERIOUSNESS_CRITERIA: tuple[tuple[str, str, str], ...] = (
    ("serious_death", "Results in death", "SeriousResultsInDeath"),
    ("serious_life_threatening", "Life-threatening", "SeriousIsLifeThreatening"),
    ("serious_hospitalisation", "Requires or prolongs inpatient hospitalisation", "SeriousResultsInHospitalization"),
    ("serious_disability", "Persistent or significant disability / incapacity", "SeriousResultsInDisability"),
    ("serious_congenital_anomaly", "Congenital anomaly / birth defect", "SeriousIsBirthDefect"),
    ("serious_other_medically_important", "Other medically important event", "SeriousRequiresPreventImpairment"),
)
SERIOUSNESS_FIELDS = tuple(field for field, _, _ in SERIOUSNESS_CRITERIA)


class Causality(models.TextChoices):
    """WHO-UMC causality categories."""

    CERTAIN = "certain", "Certain"
    PROBABLE = "probable", "Probable / likely"
    POSSIBLE = "possible", "Possible"
    UNLIKELY = "unlikely", "Unlikely"
    CONDITIONAL = "conditional", "Conditional / unclassified"
    UNASSESSABLE = "unassessable", "Unassessable / unclassifiable"


# FHIR R4 4.0.1 CodeSystem adverse-event-causality-assess uses these capitalised codes; newer terminology.hl7.org
# builds lowercase them. Pinned to R4 4.0.1 (standards.md 6.3).
CAUSALITY_FHIR_R4 = {
    Causality.CERTAIN: "Certain",
    Causality.PROBABLE: "Probably-Likely",
    Causality.POSSIBLE: "Possible",
    Causality.UNLIKELY: "Unlikely",
    Causality.CONDITIONAL: "Conditional-Classified",
    Causality.UNASSESSABLE: "Unassessable-Unclassifiable",
}


# "Stronger" for analyses (the derived `causality`): the more the assessment points to the injection. Conditional
# and unassessable are not "unlikely": they leave the relation open, so they rank above it (docs/decisions).
CAUSALITY_STRENGTH: tuple[str, ...] = (
    Causality.CERTAIN,
    Causality.PROBABLE,
    Causality.POSSIBLE,
    Causality.CONDITIONAL,
    Causality.UNASSESSABLE,
    Causality.UNLIKELY,
)
# "At least possibly related" (ICH E2A: a reasonable possibility of a causal relationship): what makes a serious
# unexpected event a SUSAR candidate.
AT_LEAST_POSSIBLE = (Causality.CERTAIN, Causality.PROBABLE, Causality.POSSIBLE)


def stronger_causality(*assessments: str) -> str:
    """The strongest of these WHO-UMC assessments (product, procedure): what analyses call "related"."""
    given = [a for a in assessments if a]
    return min(given, key=CAUSALITY_STRENGTH.index) if given else ""


class Dechallenge(models.TextChoices):
    """Was the next injection of a staged plan withheld or delayed after the event (CIOMS I box 20)?"""

    YES = "yes", "Yes: the next injection was withheld or delayed"
    NO = "no", "No: the plan went on as scheduled"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Rechallenge(models.TextChoices):
    """Was a later injection of the plan given after the event (CIOMS I box 21)?"""

    YES = "yes", "Yes: a later injection was given"
    NO = "no", "No"


# One yes / no / unknown vocabulary for the registry (the API schema names it once: YesNoUnknownEnum).
YesNoUnknown = selection.YesNoUnknown


class ReportRoute(models.TextChoices):
    """Where an expedited report went."""

    SPONSOR = "sponsor", "Study sponsor"
    MHRA_YELLOW_CARD = "mhra_yellow_card", "MHRA Yellow Card"
    FDA_MEDWATCH = "fda_medwatch", "FDA MedWatch"
    DEVICE_VIGILANCE = "device_vigilance", "Device vigilance (processing kit)"
    OTHER = "other", "Other (see notes)"


class ReportKind(models.TextChoices):
    INITIAL = "initial", "Initial report"
    FOLLOW_UP = "follow_up", "Follow-up report"


# ICH E2A (standards.md 6.5), calendar days from the day the clinic first knew (day 0): a fatal or life-threatening
# SUSAR within 7 days, with a follow-up within 8 more (day 15); any other SUSAR within 15 days.
SUSAR_FATAL_DAYS = 7
SUSAR_FOLLOW_UP_DAYS = 15
SUSAR_OTHER_DAYS = 15


class Relatedness(models.TextChoices):
    """Which part of the procedure the event relates to (BMAC has two: the harvest and the injection)."""

    INJECTION = "injection", "The injection"
    HARVEST = "harvest", "The harvest (bone-marrow or fat)"
    BOTH = "both", "Both harvest and injection"
    NEITHER = "neither", "Neither (unrelated to the procedure)"
    UNKNOWN = "unknown", "Not known"


# What may only be blamed where there was a harvest.
HARVEST_RELATEDNESS = (Relatedness.HARVEST, Relatedness.BOTH)
RELATEDNESS_HELP = '"harvest" and "both" only for an event linked to a BMAC or ADSC injection (which had a harvest).'


def allowed_relatedness(products: Iterable[str]) -> list[str]:
    """What an event after injections of these products may be related to: the harvest only if one had one."""
    harvest = has_harvest(products)
    return [r for r in Relatedness.values if harvest or r not in HARVEST_RELATEDNESS]


class Expectedness(models.TextChoices):
    EXPECTED = "expected", "Expected"
    UNEXPECTED = "unexpected", "Unexpected"


class ActionTaken(models.TextChoices):
    NONE = "none", "None / observation"
    CONSERVATIVE = "conservative", "Rest, ice, simple analgesia"
    MEDICATION = "medication", "Medication prescribed"
    ASPIRATION = "aspiration", "Joint aspiration"
    ANTIBIOTICS = "antibiotics", "Antibiotics"
    SURGERY = "surgery", "Surgical washout / procedure"
    ADMISSION = "admission", "Hospital admission"
    TREATMENT_STOPPED = "treatment_stopped", "Further injections stopped"
    TREATMENT_DELAYED = "treatment_delayed", "Further injections delayed"
    OTHER = "other", "Other (see description)"


class Outcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered / resolved"
    RECOVERING = "recovering", "Recovering / resolving"
    NOT_RECOVERED = "not_recovered", "Not recovered / ongoing"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", "Recovered with sequelae"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


@dataclass(frozen=True)
class OutcomeCodes:
    e2b_r3: str  # E.i.7, OID 2.16.840.1.113883.3.989.2.1.1.11
    e2b_r2: str  # B.2.i.8 / FAERS
    fhir_r4: str  # AdverseEvent.outcome, http://terminology.hl7.org/CodeSystem/adverse-event-outcome
    cdisc: str  # AEOUT


# One table for every outcome mapping (standards.md 6.4). Note "unknown": 0 in R3 but 6 in R2.
OUTCOME_CODES: dict[str, OutcomeCodes] = {
    Outcome.RECOVERED: OutcomeCodes("1", "1", "resolved", "RECOVERED/RESOLVED"),
    Outcome.RECOVERING: OutcomeCodes("2", "2", "recovering", "RECOVERING/RESOLVING"),
    Outcome.NOT_RECOVERED: OutcomeCodes("3", "3", "ongoing", "NOT RECOVERED/NOT RESOLVED"),
    Outcome.RECOVERED_WITH_SEQUELAE: OutcomeCodes("4", "4", "resolvedWithSequelae", "RECOVERED/RESOLVED WITH SEQUELAE"),
    Outcome.FATAL: OutcomeCodes("5", "5", "fatal", "FATAL"),
    Outcome.UNKNOWN: OutcomeCodes("0", "6", "unknown", "UNKNOWN"),
}

# "Status" of an event for lists and the API: resolved once the outcome is final, otherwise open (still followed).
RESOLVED_OUTCOMES = (Outcome.RECOVERED, Outcome.RECOVERED_WITH_SEQUELAE, Outcome.FATAL)
OPEN_OUTCOMES = (Outcome.RECOVERING, Outcome.NOT_RECOVERED, Outcome.UNKNOWN)


class EventStatus(models.TextChoices):
    OPEN = "open", "Open (recovering, ongoing or unknown)"
    RESOLVED = "resolved", "Resolved (recovered, with sequelae, or fatal)"

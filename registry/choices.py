"""Vocabularies shared by the registry's models, forms, API and exports."""

from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    LEAD = "lead", "Clinic lead"
    AUDITOR = "auditor", "Auditor"


# Roles that may change clinical data in their clinics. Auditors read only.
WRITING_ROLES = (Role.CLINICIAN, Role.LEAD)


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not recorded"


class Knee(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


class Product(models.TextChoices):
    BMAC = "bmac", "BMAC (bone marrow aspirate concentrate)"
    PRP = "prp", "PRP (platelet-rich plasma)"
    HA = "ha", "Hyaluronic acid"
    EXOSOME = "exosome", "Exosomes / extracellular vesicles"
    ADSC = "adsc", "ADSC / SVF (adipose-derived cells)"
    CORTICOSTEROID = "corticosteroid", "Corticosteroid"
    SALINE = "saline", "Saline"
    OTHER = "other", "Other"


# Products taken from the patient at the same visit, with a harvest that can itself cause an adverse event: bone
# marrow (BMAC) and fat (ADSC / SVF).
PRODUCTS_WITH_HARVEST = (Product.BMAC, Product.ADSC)


class Route(models.TextChoices):
    """Where a component of an injection is delivered."""

    INTRA_ARTICULAR = "intra_articular", "Intra-articular"
    INTRAOSSEOUS_FEMORAL = "intraosseous_femoral", "Intraosseous (femoral)"
    INTRAOSSEOUS_TIBIAL = "intraosseous_tibial", "Intraosseous (tibial)"
    PERIARTICULAR = "periarticular", "Periarticular"


INTRAOSSEOUS_ROUTES = (Route.INTRAOSSEOUS_FEMORAL, Route.INTRAOSSEOUS_TIBIAL)
# Intraosseous (subchondral) delivery is reported for cell and platelet products aimed at bone marrow lesions; a
# viscosupplement, a steroid or saline has no place in subchondral bone, so those routes are refused for them.
NO_INTRAOSSEOUS = (Product.HA, Product.CORTICOSTEROID, Product.SALINE)


class Guidance(models.TextChoices):
    ULTRASOUND = "ultrasound", "Ultrasound"
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
    LANDMARK = "landmark", "Landmark (no imaging)"


class InjectionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    GIVEN = "given", "Given"


class Alignment(models.TextChoices):
    NEUTRAL = "neutral", "Neutral"
    VARUS = "varus", "Varus"
    VALGUS = "valgus", "Valgus"


class Rehabilitation(models.TextChoices):
    NONE = "none", "No structured rehabilitation"
    HOME = "home", "Home exercise programme"
    SUPERVISED = "supervised", "Supervised physiotherapy"
    PROTOCOL = "protocol", "Clinic's written rehabilitation protocol"


class PreviousTreatment(models.TextChoices):
    PHYSIOTHERAPY = "physiotherapy", "Physiotherapy / exercise"
    WEIGHT_LOSS = "weight_loss", "Weight-loss programme"
    NSAID = "nsaid", "NSAIDs"
    STEROID_INJECTION = "steroid_injection", "Corticosteroid injection"
    HA_INJECTION = "ha_injection", "Hyaluronic acid injection"
    PRP_INJECTION = "prp_injection", "PRP injection"
    ARTHROSCOPY = "arthroscopy", "Arthroscopy"
    OSTEOTOMY = "osteotomy", "Osteotomy"
    BRACE = "brace", "Unloader brace"


class Pathology(models.TextChoices):
    MENISCAL_TEAR = "meniscal_tear", "Meniscal tear"
    LIGAMENT = "ligament", "Ligament insufficiency"
    BONE_MARROW_LESION = "bone_marrow_lesion", "Bone marrow lesion"
    FOCAL_CHONDRAL = "focal_chondral", "Focal chondral defect"
    PATELLOFEMORAL = "patellofemoral", "Patellofemoral OA"
    INFLAMMATORY = "inflammatory", "Inflammatory arthritis"
    OTHER = "other", "Other (see notes)"


class WithdrawalDecision(models.TextChoices):
    RETAIN = "retain", "Keep data collected so far, pseudonymised; no further contact"
    ERASE_CONTACT = "erase_contact", "Erase contact details; keep pseudonymised data collected so far"

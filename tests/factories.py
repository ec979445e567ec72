import datetime as dt

import factory
from django.contrib.auth import get_user_model

from registry.choices import Role
from registry.models import Clinic, Membership, Patient
from registry.services import injection_record

PASSWORD = "correct-horse-battery-staple"


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "Europe/London"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.example")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def staff(clinic: Clinic, role: str = Role.CLINICIAN, **kwargs):
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    # Counted, not drawn: unique by construction. Shaped like a drawn number (KR-7G3K-9QPD) but with a U, a letter
    # the draw never uses, so a test's patients and those enrolled through the service can never collide.
    registry_number = factory.Sequence(lambda n: f"KR-{n % 10_000:04d}-U{n // 10_000 % 1000:03d}")
    full_name = factory.Sequence(lambda n: f"Patient {n}")
    email = factory.Sequence(lambda n: f"patient{n}@example.org")
    year_of_birth = 1960
    sex = "female"
    consent_on = dt.date(2026, 1, 5)
    consent_version = "v1.0"


BMAC_PROTOCOL = {
    "harvest_site": "posterior_iliac_crest",
    "aspirate_volume_ml": 60,
    "anticoagulant": "acd_a",
    "processing_system": "Demo centrifuge kit",
    "processing_method": "centrifugation",
    "spins": 2,
    "concentrate_volume_ml": 6,
    "tnc_per_ml": 35.5,
    "tnc_method": "analyser",
}
EXOSOME_PROTOCOL = {
    "source_material": "umbilical_cord_msc",
    "manufacturer": "Example Bio Ltd",
    "batch_lot": "EV-2026-001",
    "particle_concentration": 1e11,
    "sizing_method": "nta",
    "positive_markers": "CD9, CD63, CD81, TSG101",
    "negative_markers": "calnexin",
    "dose_particles": 2e10,
    "isolation_method": "sec",
    "transmembrane_markers": "CD63, CD81",
    "cytosolic_markers": "TSG101",
    "marker_method": "western_blot",
    "sterility": "passed",
    "endotoxin_eu_per_ml": 0.2,
    "mycoplasma": "negative",
    "coa_on_file": "yes",
    "coa_reference": "COA-EV-2026-001",
    "gmp_status": "gmp",
    "lot_expiry_on": "2027-12-31",
    "storage": "minus_80",
    "donor_source": "allogeneic",
    "donor_screening": "screened",
}
PRP_PROTOCOL = {
    "preparation_system": "Demo PRP kit",
    "blood_volume_ml": 30,
    "spins": 1,
    "leukocytes": "poor",
    "platelet_count": 1200,
    "prp_count_method": "analyser",  # every count states its method (issue 15)
    "activation": "none",
}
GOVERNANCE = {
    "study_registration": "NCT01234567",
    "ethics_reference": "REC 26/LO/0001",
    "regulatory_framework": "uk_cta",
    "authorisation_number": "CTA 12345/0001/001-0001",
}


def with_methods(product: str, protocol: dict) -> dict:
    """``protocol`` with a measurement method for each count it gives (new records must state them)."""
    from registry.protocols import PROTOCOL_FORMS

    form = PROTOCOL_FORMS[product]
    out = dict(protocol)
    for count, method in form.methods.items():
        if out.get(count) is not None:
            out.setdefault(method, form.base_fields[method].choices[1][0])
    if product == "corticosteroid" and out.get("prior_injections_12_months"):
        out.setdefault("last_prior_injection_on", "2026-01-05")  # within 12 months of injection_data's date
    return out


def injection_data(**overrides) -> dict:
    data = {
        "knee": "left",
        "injected_on": dt.date(2026, 3, 2),
        "product": "bmac",
        "guidance": "ultrasound",
        "volume_ml": 6,
        "rehabilitation": "home",
        "kl_grade": 2,
        "bmi": 27.5,
        "alignment": "varus",
        "alignment_degrees": 3,
        "activity_level": 4,
        "protocol": dict(BMAC_PROTOCOL),
    }
    data.update(overrides)
    return data


def make_injection(patient: Patient, clinician, **overrides):
    number = overrides.pop("number_in_plan", 1)
    planned = overrides.pop("planned_injections", 1)
    acknowledged = overrides.pop("acknowledged_warnings", ())
    components = overrides.pop("components", None)
    repeat_of = overrides.pop("repeat_of", None)
    data = injection_data(clinician=clinician, **overrides)
    return injection_record(
        patient=patient,
        by=clinician,
        data=data,
        components=components,
        number_in_plan=number,
        planned_injections=planned,
        acknowledged_warnings=acknowledged,
        repeat_of=repeat_of,
    )


KOOS_ITEMS = [
    *(f"S{i}" for i in range(1, 8)),
    *(f"P{i}" for i in range(1, 10)),
    *(f"A{i}" for i in range(1, 18)),
    *(f"SP{i}" for i in range(1, 6)),
    *(f"Q{i}" for i in range(1, 5)),
]
SAFETY_ITEMS = [
    "swelling",
    "redness_heat",
    "fever",
    "unable_to_bear_weight",
    "care_gp",
    "care_ed",
    "hospital_admission",
    "harvest_site_problem",
]


# Further treatment since the last questionnaire: none (no injection, no operation, no pain medicine, no exercises).
FURTHER_TREATMENT_NONE = {
    "FURTHER.injection": "no",
    "FURTHER.surgery": "no",
    "FURTHER.pain_medicine": "0",
    "FURTHER.physiotherapy": "0",
}


def questionnaire_data(follow_up=None, **overrides) -> dict[str, str]:
    """A whole questionnaire as the patient's form posts it ("KOOS.P1": "2", "VAS.pain": "30", "SAFETY.fever": "no").

    Defaults: every KOOS and OKS item "2" (KOOS subscales 50, OKS 24), VAS pain 30, PGA 20, every safety answer
    "no", no further treatment (FURTHER_TREATMENT_NONE). Override by input name, e.g.
    ``questionnaire_data(**{"VAS.pain": "50", "SAFETY.fever": "yes"})``; a value of None leaves that input out.
    With a follow-up, only what it asks is kept (no safety check at baseline; the harvest-site question only for
    BMAC).
    """
    data = {f"KOOS.{code}": "2" for code in KOOS_ITEMS}
    data.update({f"OKS.Q{i}": "2" for i in range(1, 13)})
    data.update({"VAS.pain": "30", "PGA.global": "20"})
    data.update({f"SAFETY.{code}": "no" for code in SAFETY_ITEMS})
    data.update(FURTHER_TREATMENT_NONE)
    data.update(overrides)
    if follow_up is not None:
        from outcomes.questionnaire import instruments_for, product_of

        asked = {
            f"{instrument.code}.{item.code}"
            for instrument in instruments_for(follow_up)
            for item in instrument.items_for_product(product_of(follow_up))
        }
        data = {name: value for name, value in data.items() if name in asked}
    return {name: value for name, value in data.items() if value is not None}

"""Demo data for `make run`: two clinics, four logins, a dozen hand-made patients and a synthetic registry.

The dozen showcase patients go through the registry's services, so they obey the same rules (and fire the same
domain signals, e.g. follow-up scheduling) as data entered on the site. Around them, `demo.synth` writes a
synthetic registry in bulk (300 injections by default, `--injections N` for more, over `--clinics C` clinics):
follow-ups in every status, scored answers, flags, adverse events and outbox rows. Idempotent: when the data
exists it only prints the logins (`--reset` starts over). Passwords are generated once and kept in
var/demo-logins.txt.
"""

import datetime as dt
import random
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from demo import showcase, synth
from demo.selection import selection_factors
from outcomes.instruments import get_instrument
from outcomes.models import FollowUp, Submission, SubmissionSource, Timepoint
from outcomes.reminder_settings import reminder_settings_change, settings_of
from outcomes.reminders import comparison_start
from outcomes.services import questionnaire_submit
from registry.choices import InjectionStatus, Role
from registry.models import Clinic, Injection
from registry.services import injection_record, patient_enrol
from safety.services import adverse_event_record, flags_evaluate, regulatory_report_record

CLINICS = ("Northgate Knee Clinic", "Riverside Sports Medicine")
DEMO_PHONES = ("0113 496 0123", "020 7946 0456")
DEMO_INJECTIONS = 300  # synthetic injections next to the showcase patients when --injections is not given
# Treated in both knees today: at first start her one email, listing both knees' baseline questionnaires, waits in
# the dev mailbox (rundemo sends what is due before it starts).
BOTH_KNEES_PATIENT = "Grace Adeyemi"
# Agreed to text messages only (no email): treated today, her baseline invitation is a text, which waits in the dev
# mailbox marked "Text message to +44...". Grace Adeyemi is on both channels: email first, texts on days 7 and 12.
TEXTS_ONLY_PATIENT = "Amara Nwosu"
# Injected two days ago; answered the day 2-3 safety check this morning with a swollen knee and pain 32 mm worse
# than before the injection: an urgent flag on the attention page (issue 15's red-flag combination, no fever).
EARLY_CHECK_PATIENT = "Oluwaseun Barrett"
# Consultations seen this month before any injection (issue 16): the decision, and for the first the fallback plan.
# (name, year of birth, sex, days ago, knee, consultation answers beyond the common ones)
CONSULTATIONS = (
    ("Priya Raman", 1968, "female", 3, "left", {
        "kl_grade": 2, "indications": ["pain_despite_exercise", "early_oa", "realistic_expectations"],
        "alternatives_discussed": ["exercise", "weight", "ha", "prp", "bmac", "no_treatment"],
        "reasoning": "Medial pain despite five months of supervised exercise; KL 2, neutral alignment.",
        "decision": "proceed", "proposed_product": "prp", "fallback_offer": ["physiotherapy", "another_product"],
    }),
    ("Desmond Okafor", 1949, "male", 6, "right", {
        "kl_grade": 4, "reasons_against": ["kl_4", "mechanical"],
        "alternatives_discussed": ["exercise", "analgesia", "surgical_opinion"],
        "reasoning": "Bone on bone laterally with locking: an injection is unlikely to help.",
        "decision": "advise_against", "referred_to": "Surgical opinion (knee replacement clinic)",
    }),
    ("Hannah Whitfield", 1975, "female", 9, "left", {
        "kl_grade": 3, "reasons_against": ["inflammatory"],
        "alternatives_discussed": ["exercise", "analgesia", "steroid"],
        "reasoning": "Morning stiffness over an hour and a hot swollen knee: rule out inflammatory arthritis first.",
        "decision": "advise_against", "referred_to": "Rheumatology",
    }),
    ("Tomasz Nowak", 1962, "male", 12, "right", {
        "kl_grade": 3, "indications": ["pain_despite_exercise", "function_limited"],
        "alternatives_discussed": ["exercise", "weight", "ha", "prp", "bmac"],
        "reasoning": "Wants to think about cost and time off work; to call back.",
        "decision": "undecided",
    }),
)  # fmt: skip
# The first demo clinic's reading list on every patient's copy (real, public documents; the clinic edits it).
DEMO_REFERENCES = (
    "NICE guideline NG226: Osteoarthritis in over 16s: diagnosis and management (2022).\n"
    "Versus Arthritis: Osteoarthritis of the knee (patient information)."
)
# Fallback reviews (issue 16): patients whose injection, about eight months ago, followed a consultation with a
# fallback plan. (name, year of birth, sex, knee, product, 6-month outcome, review) with outcome "same" (answers
# as at baseline: below the MCID) or "missing" (never answered), and the review recorded (None: still on the list).
REVIEWS = (
    ("Farah Siddiqui", 1964, "female", "left", "prp", "same",
     {"offered": ["physiotherapy", "repeat_injection"], "offered_product": "prp", "path_taken": "repeat_injection",
      "notes": "Pain as before the injection; a second PRP course after a block of physiotherapy."}),
    ("Colin Baptiste", 1957, "male", "right", "ha", "same",
     {"offered": ["physiotherapy", "surgical_referral"], "path_taken": "declined",
      "notes": "Prefers to manage with his own exercise programme for now."}),
    ("Mei Tanaka", 1969, "female", "left", "bmac", "missing", None),
)  # fmt: skip
REVIEW_INJECTED_DAYS_AGO = 230  # past the 6-month review point by about seven weeks
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    description: str
    # (clinic index, role); an empty tuple with superuser=True is the administrator
    memberships: tuple[tuple[int, str], ...] = ()
    superuser: bool = False


LOGINS = (
    DemoLogin("clinician", f"Clinician at {CLINICS[0]}", ((0, Role.CLINICIAN),)),
    DemoLogin("lead", "Clinic lead at both clinics", ((0, Role.LEAD), (1, Role.LEAD))),
    DemoLogin("auditor", "Auditor at both clinics (read only)", ((0, Role.AUDITOR), (1, Role.AUDITOR))),
    DemoLogin("admin", "Administrator (superuser; also /admin/)", superuser=True),
)

NAMES = (
    "Margaret Ellison",
    "David Okafor",
    "Susan Hartley",
    "Peter Novak",
    "Aisha Rahman",
    "George Whitfield",
    "Linda Castellano",
    "Robert MacLeod",
    "Helen Yamamoto",
    "Thomas Brennan",
    "Priya Desai",
    "Michael Lindqvist",
)


def logins_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.txt"


def patient_copy_file() -> Path:
    """Where the demo keeps the link to the first consultation's patient's copy (the registry stores its hash only,
    so this file is the only place the demo can show it again)."""
    return Path(settings.VAR_DIR) / "demo-patient-copy.txt"


def read_logins(path: Path | None = None) -> dict[str, str]:
    """username -> password, from the logins file (empty if there is none)."""
    path = path or logins_file()
    if not path.exists():
        return {}
    passwords = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            username, password = line.split()[:2]
            passwords[username] = password
    return passwords


def write_logins(passwords: dict[str, str], path: Path | None = None) -> None:
    path = path or logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Demo logins for the Knee Outcomes Registry: username, password, who they are.",
        "# Generated once by `manage.py seed_demo`; delete this file and run it again for new passwords.",
    ]
    for login in LOGINS:
        lines.append(f"{login.username:<10} {passwords[login.username]:<16} {login.description}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def logins_table(passwords: dict[str, str]) -> str:
    rows = [f"  {'username':<10} {'password':<16} who"]
    rows += [f"  {lg.username:<10} {passwords.get(lg.username, '?'):<16} {lg.description}" for lg in LOGINS]
    return "\n".join(rows)


def new_password() -> str:
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3))
    return "-".join(groups)


def _bmac(rng: random.Random, harvest_site: str) -> dict:
    aspirate = rng.choice([30, 60, 90, 120])
    protocol = {
        "harvest_site": harvest_site,
        "aspiration_device": rng.choice(["11G Jamshidi needle", "Marrow Cellution", "8G trocar"]),
        "aspiration_pulls": rng.randint(4, 12),
        "aspirate_volume_ml": aspirate,
        "anticoagulant": rng.choice(["acd_a", "heparin"]),
        "processing_system": rng.choice(["Harvest SmartPReP", "Arthrex Angel", "Demo centrifuge kit"]),
        "processing_method": "centrifugation",
        "spins": rng.choice([1, 2]),
        "spin_minutes": rng.choice([10, 14, 20]),
        "concentrate_volume_ml": round(aspirate / 10, 1),
        "tnc_per_ml": round(rng.uniform(15, 60), 1),
        "anaesthesia": rng.choice(["local", "sedation"]),
        "harvest_complication": "none",
    }
    # Issue 15's details, derived from the values drawn (no further draws: the rest of the demo is unchanged).
    return {**protocol, **synth.bmac_details(protocol)}


def _prp(rng: random.Random, leukocytes: str) -> dict:
    protocol = {
        "leukocytes": leukocytes,
        "preparation_system": rng.choice(["Arthrex ACP", "RegenKit", "Demo PRP kit"]),
        "blood_volume_ml": rng.choice([15, 30, 60]),
        "spins": rng.choice([1, 2]),
        "platelet_count": rng.choice([600, 900, 1200]),
        "activation": "none",
    }
    return {**protocol, **synth.prp_counts(protocol)}


def _ha(rng: random.Random) -> dict:
    name = rng.choice(["Ostenil Plus", "Durolane", "Synvisc-One"])
    return {"product_name": name, **synth.HA_PRODUCTS[name], "dose_mg": rng.choice([40, 60, 88])}


def _steroid(rng: random.Random, drug: str) -> dict:
    return {
        "drug": drug,
        "formulation": "suspension",
        "dose_mg": rng.choice([40, 80]),
        "local_anaesthetic": "Lidocaine 1% 2 mL",
        "prior_injections_12_months": 0,
    }


EXOSOME_PROTOCOL = {
    "source_material": "umbilical_cord_msc",
    "manufacturer": "Example Bio Ltd",
    "batch_lot": "EV-2026-014",
    "particle_concentration": 1e11,
    "sizing_method": "nta",
    "size_mode_nm": 118,
    "negative_markers": "calnexin",
    "dose_particles": 2e10,
    **synth.EXOSOME_RELEASE,
}
EXOSOME_GOVERNANCE = {
    "study_registration": "NCT01234567",
    "ethics_reference": "REC 26/LO/0001",
    "regulatory_framework": "uk_cta",
    "authorisation_number": "CTA 12345/0001/001",
    "sponsor": "Northgate Knee Clinic research office",
}


def _exosome() -> dict:
    # A lot in date: it expires two years after the demo is seeded.
    return {**EXOSOME_PROTOCOL, "lot_expiry_on": (timezone.localdate() + dt.timedelta(days=730)).isoformat()}


def _plans(rng: random.Random) -> list[dict]:
    """One entry per patient: clinic, product, protocol, and for the staged PRP plan three stages."""
    return [
        {"clinic": 0, "product": "bmac", "protocol": _bmac(rng, "posterior_iliac_crest"), "combined": True},
        {"clinic": 0, "product": "bmac", "protocol": _bmac(rng, "anterior_iliac_crest")},
        {"clinic": 1, "product": "bmac", "protocol": _bmac(rng, "proximal_tibia"), "combined": True},
        {"clinic": 0, "product": "bmac", "protocol": _bmac(rng, "distal_femur")},
        {"clinic": 0, "product": "prp", "protocol": _prp(rng, "poor"), "stages": 3},
        {"clinic": 0, "product": "prp", "protocol": _prp(rng, "poor")},
        {"clinic": 1, "product": "prp", "protocol": _prp(rng, "rich")},
        {"clinic": 0, "product": "ha", "protocol": _ha(rng)},
        {"clinic": 1, "product": "ha", "protocol": _ha(rng)},
        {"clinic": 0, "product": "corticosteroid", "protocol": _steroid(rng, "triamcinolone_acetonide")},
        {"clinic": 1, "product": "corticosteroid", "protocol": _steroid(rng, "methylprednisolone_acetate")},
        {"clinic": 0, "product": "exosome", "protocol": _exosome(), "governance": dict(EXOSOME_GOVERNANCE)},
    ]


_VOLUME_ML = {"prp": 5, "ha": 3, "corticosteroid": 2, "exosome": 2}

# Combined injections (issue 15): BMAC with PRP into the joint, and part of the concentrate into the medial tibial
# plateau (subchondral bone marrow lesion). Fixed values, so the random stream of the other patients is unchanged.
_COMBINED_PRP = {
    "leukocytes": "poor",
    "preparation_system": "Demo PRP kit",
    "blood_volume_ml": 30,
    "spins": 1,
    "platelet_count": 1100,
    "activation": "none",
}
_COMBINED_PRP |= synth.prp_counts(_COMBINED_PRP)  # with the counts' methods, as every new PRP record
_INTRAOSSEOUS_ML = Decimal("2")


def _components(data: dict) -> list[dict]:
    """BMAC intra-articular (its concentrate less what goes into bone), PRP intra-articular, BMAC intraosseous."""
    into_joint = max(data["volume_ml"] - _INTRAOSSEOUS_ML, Decimal("1"))
    data["volume_ml"] = into_joint
    return [
        {"product": "bmac", "route": "intra_articular", "site": "superolateral", "volume_ml": into_joint,
         "protocol": data["protocol"]},
        {"product": "prp", "route": "intra_articular", "site": "superolateral", "volume_ml": Decimal("4"),
         "protocol": dict(_COMBINED_PRP)},
        {"product": "bmac", "route": "intraosseous_tibial", "site": "medial tibial plateau",
         "volume_ml": _INTRAOSSEOUS_ML, "protocol": data["protocol"]},
    ]  # fmt: skip


def _injection_data(rng: random.Random, plan: dict, *, injected_on: dt.date, clinician, knee: str) -> dict:
    alignment = rng.choice(["neutral", "varus", "varus", "valgus"])
    protocol = plan["protocol"]
    volume = protocol["concentrate_volume_ml"] if plan["product"] == "bmac" else _VOLUME_ML[plan["product"]]
    data = {
        "knee": knee,
        "injected_on": injected_on,
        "clinician": clinician,
        "product": plan["product"],
        "guidance": "ultrasound" if plan["product"] in ("bmac", "exosome") else rng.choice(["ultrasound", "landmark"]),
        "volume_ml": Decimal(str(volume)),
        "rehabilitation": rng.choice(["home", "supervised", "protocol"]),
        "kl_grade": rng.randint(1, 4),
        "bmi": Decimal(str(round(rng.uniform(21, 34), 1))),
        "alignment": alignment,
        "alignment_degrees": None if alignment == "neutral" else Decimal(rng.randint(2, 8)),
        "activity_level": rng.randint(1, 7),
        "previous_treatments": rng.sample(["physiotherapy", "nsaid", "steroid_injection", "weight_loss"], k=2),
        "pathology": rng.choice([[], [], ["meniscal_tear"], ["bone_marrow_lesion"]]),
        "protocol": dict(protocol),
    }
    # Their own generator (seeded by this injection), so the rest of the demo draws what it drew before.
    own = random.Random(f"selection {plan['product']} {injected_on} {knee} {data['bmi']} {data['kl_grade']}")
    today = timezone.localdate()
    data.update(selection_factors(own, injected_on=injected_on, today=today, alignment=alignment, bmi=data["bmi"]))
    if plan.get("governance"):
        data["governance"] = dict(plan["governance"])
    return data


def _nothing_else(follow_up) -> dict[str, str]:
    """Beside the PROMs, the answers of a follow-up with nothing to report: no safety problem, no further
    treatment (the first answer of each question, "no" or "none")."""
    from outcomes.questionnaire import PROMS, instruments_for, product_of

    answers = {}
    for instrument in instruments_for(follow_up):
        if instrument.code in PROMS:
            continue
        for item in instrument.items_for_product(product_of(follow_up)):
            if item.required_if:
                continue  # "if yes: which?": left empty after a no
            if item.type == "yesno":
                answers[f"{instrument.code}.{item.code}"] = "no"
            elif item.type == "choice":
                answers[f"{instrument.code}.{item.code}"] = str(min(item.scores))
    return answers


class Command(BaseCommand):
    help = "Load demo clinics, logins, patients and injections (skipped if already loaded); print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="Random seed: the same seed gives the same data.")
        parser.add_argument(
            "--reset", action="store_true", help="Empty the WHOLE database and the dev mailbox, then load again."
        )
        parser.add_argument(
            "--injections",
            type=int,
            default=None,
            help=f"Synthetic injections to write in bulk (default {DEMO_INJECTIONS}), e.g. 100000 for benchmarks.",
        )
        parser.add_argument(
            "--clinics", type=int, default=len(CLINICS), help="Clinics the synthetic registry is spread over."
        )

    def handle(self, *args, seed: int, reset: bool, injections: int | None, clinics: int, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("seed_demo loads made-up patients: it refuses to run with DJANGO_ENV=production.")
        if injections is not None and injections < 0:
            raise CommandError("--injections must be 0 or more.")
        if clinics < 1:
            raise CommandError("--clinics must be at least 1.")
        if reset:
            self._reset()
        passwords = read_logins()
        if Clinic.objects.filter(name__in=CLINICS).exists():
            self.stdout.write("Demo data already loaded (seed_demo --reset starts over).")
            passwords = self._ensure_passwords(passwords)
        else:
            passwords = {lg.username: passwords.get(lg.username) or new_password() for lg in LOGINS}
            counts = self._load(random.Random(seed), passwords)
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded (seed {seed}): {counts}."))
        self._synthetic(injections=DEMO_INJECTIONS if injections is None else injections, clinics=clinics, seed=seed)
        write_logins(passwords)
        self.stdout.write(f"\nDemo logins (also in {logins_file()}):\n{logins_table(passwords)}\n")
        if patient_copy_file().exists():  # the patient's view of a consultation, with no sign-in (issue 16)
            self.stdout.write(patient_copy_file().read_text())

    def _synthetic(self, *, injections: int, clinics: int, seed: int) -> None:
        existing = synth.synthetic_patients()
        if existing.exists():
            count = Injection.objects.filter(patient__in=existing).count()
            self.stdout.write(f"Synthetic registry already loaded ({count:,} injections; --reset starts over).")
            return
        if not injections:
            return
        clinic_objects, clinicians = self._synthetic_clinics(clinics)
        started = time.monotonic()
        counts = synth.generate(
            injections=injections,
            seed=seed,
            clinics=clinic_objects,
            clinicians=clinicians,
            today=timezone.localdate(),
            progress=self.stdout.write if injections >= 20_000 else None,
        )
        seconds = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Synthetic registry (seed {seed}) in {seconds:.1f} s: {counts}."))

    def _synthetic_clinics(self, count: int) -> tuple[list[Clinic], dict[int, list[int]]]:
        """The demo clinics, plus more (each with two clinicians, the lead and the auditor) up to `count`."""
        from registry.memberships import membership_grant

        User = get_user_model()
        demo = {c.name: c for c in Clinic.objects.filter(name__in=CLINICS)}
        users = {u.username: u for u in User.objects.filter(username__in=[lg.username for lg in LOGINS])}
        clinics = [demo[name] for name in CLINICS][:count]
        clinicians = {clinics[0].pk: [users["clinician"].pk, users["lead"].pk]}
        if len(clinics) > 1:
            clinicians[clinics[1].pk] = [users["lead"].pk]
        for number in range(len(clinics) + 1, count + 1):
            clinic = Clinic.objects.create(
                name=f"Registry Clinic {number:03d}",
                contact_email=f"outcomes@clinic{number:03d}.example.org",
                phone=f"0161 496 0{number % 1000:03d}",  # Ofcom's drama range: never a real line
                country="GB",
            )
            staff = []
            for letter in "ab":
                user = User.objects.create_user(username=f"clinician{number:03d}{letter}", password=None)
                membership_grant(user=user, clinic=clinic, role=Role.CLINICIAN)
                staff.append(user.pk)
            membership_grant(user=users["lead"], clinic=clinic, role=Role.LEAD)
            membership_grant(user=users["auditor"], clinic=clinic, role=Role.AUDITOR)
            clinics.append(clinic)
            clinicians[clinic.pk] = staff
        return clinics, clinicians

    def _reset(self) -> None:
        self.stdout.write("Emptying the database and the dev mailbox...")
        call_command("flush", interactive=False, verbosity=0)
        mailbox = Path(settings.MAILBOX_DIR)
        if mailbox.is_dir():
            for message in mailbox.glob("*.eml"):
                message.unlink()

    def _ensure_passwords(self, passwords: dict[str, str]) -> dict[str, str]:
        """Give any demo user missing from the logins file a new password, so the printed logins always work."""
        users = {u.username: u for u in get_user_model().objects.filter(username__in=[lg.username for lg in LOGINS])}
        for login in LOGINS:
            user = users.get(login.username)
            if user is not None and login.username not in passwords:
                passwords[login.username] = new_password()
                user.set_password(passwords[login.username])
                user.save(update_fields=["password"])
        return {k: v for k, v in passwords.items() if k in users}

    @transaction.atomic
    def _load(self, rng: random.Random, passwords: dict[str, str]) -> str:
        try:
            from registry.memberships import membership_grant
        except ImportError:  # pragma: no cover - before memberships existed
            membership_grant = None
        from registry.models import Membership

        clinics = [
            Clinic.objects.create(name=name, contact_email=f"outcomes@{slug}.example.org", phone=phone, country="GB")
            # Numbers Ofcom keeps for drama and examples (never a real line).
            for name, slug, phone in zip(CLINICS, ("northgate", "riverside"), DEMO_PHONES, strict=True)
        ]
        User = get_user_model()
        users = {}
        for login in LOGINS:
            first, last = {"admin": ("Ada", "Admin"), "clinician": ("Sam", "Carter"), "lead": ("Jo", "Lead")}.get(
                login.username, ("Alex", "Auditor")
            )
            user = User.objects.create_user(
                username=login.username,
                email=f"{login.username}@demo.example.org",
                password=passwords[login.username],
                first_name=first,
                last_name=last,
                is_staff=login.superuser,
                is_superuser=login.superuser,
            )
            for clinic_index, role in login.memberships:
                if membership_grant:
                    membership_grant(user=user, clinic=clinics[clinic_index], role=role)
                else:  # pragma: no cover
                    Membership.objects.create(user=user, clinic=clinics[clinic_index], role=role)
            users[login.username] = user
        self._reminder_comparison(clinics[0], users["lead"])

        today = timezone.localdate()
        plans = _plans(rng)
        # Spread first injections over the past eight months, oldest first (some 6-month follow-ups are due).
        days_ago = sorted(rng.sample(range(12, 240), k=len(plans)), reverse=True)
        injections = 0
        for index, (plan, ago) in enumerate(zip(plans, days_ago, strict=True)):
            treating = users["clinician"] if plan["clinic"] == 0 else users["lead"]
            if plan.get("stages", 1) > 1:
                # Recent enough that its last stage (four weeks apart) is still planned.
                ago = rng.randint(30, 50)
            first_on = today - dt.timedelta(days=ago)
            # Recorded at the visit or up to a week before it (a planned injection), as a clinic does.
            recorded_on = first_on - dt.timedelta(days=rng.randint(0, 7))
            name = NAMES[index]
            patient = patient_enrol(
                clinic=clinics[plan["clinic"]],
                by=treating,
                data={
                    "full_name": name,
                    "email": f"{name.lower().replace(' ', '.')}@example.org",
                    "phone": f"07700 900{index:03d}",
                    "year_of_birth": rng.randint(1946, 1982),
                    "sex": rng.choice(["female", "male"]),
                    "consent_on": recorded_on - dt.timedelta(days=rng.randint(0, 14)),
                    "consent_version": "v1.0",
                    # Every eighth patient reads Welsh: their questionnaires and emails are in Welsh (issue 17).
                    "preferred_language": "cy" if index % 8 == 5 else "",
                },
            )
            knee = rng.choice(["left", "right"])
            stages = plan.get("stages", 1)
            for number in range(1, stages + 1):
                injected_on = first_on + dt.timedelta(days=28 * (number - 1))
                status = InjectionStatus.GIVEN if injected_on <= today else InjectionStatus.PLANNED
                data = _injection_data(rng, plan, injected_on=injected_on, clinician=treating, knee=knee)
                data["status"] = status
                injection_record(
                    patient=patient,
                    by=treating,
                    data=data,
                    components=_components(data) if plan.get("combined") else None,
                    number_in_plan=number,
                    planned_injections=stages,
                )
                injections += 1
            showcase.stamp_history(patient, recorded_on=recorded_on)
        injections += self._both_knees_today(rng, clinics[0], users["clinician"], showcase)
        injections += self._early_check_answered(rng, clinics[0], users["clinician"])
        injections += self._texts_only_today(rng, clinics[0], users["clinician"], showcase)
        self._susar_candidates(users["clinician"])
        self._consultations(clinics[0], users["clinician"])
        injections += self._fallback_reviews(rng, clinics[0], users["clinician"])
        patients = len(plans) + 3 + len(CONSULTATIONS) + len(REVIEWS)
        return f"{len(clinics)} clinics, {len(users)} logins, {patients} patients, {injections} injections"

    def _reminder_comparison(self, clinic: Clinic, lead) -> None:
        """One running comparison at the first clinic (issue 17: the registry tests its own reminders), started
        before the demo patients are enrolled, so each of them is allocated to an arm and the page has numbers."""
        comparison_start(
            clinic=clinic,
            by=lead,
            question="Does a text on day 7 help more patients answer?",
            starts_on=timezone.localdate(timezone=clinic.tzinfo),
            arm_a={"name": "Text on day 7", "text_reminders": True, "text_reminder_days": [7]},
            arm_b={"name": "No text", "text_reminders": False, "text_reminder_days": []},
        )
        # And one change on the clinic's reminder settings page, so the lead finds its history there.
        current = settings_of(clinic)
        reminder_settings_change(
            clinic=clinic,
            by=lead,
            version=current.version,
            text_reminders=current.text_reminders,
            text_reminder_days=list(current.text_reminder_days),
            show_own_scores=current.show_own_scores,
            daily_email_cap=current.daily_email_cap,
            daily_text_cap=500,
            reason="Text provider contract: 500 texts a day",
        )

    def _early_check_answered(self, rng: random.Random, clinic: Clinic, clinician) -> int:
        """EARLY_CHECK_PATIENT: baseline answered at the clinic, then the day 2-3 safety check from the email link,
        through the services; the flags are evaluated at once (the worker may not be running yet)."""
        today = timezone.localdate()
        injected_on = today - dt.timedelta(days=2)
        patient = patient_enrol(
            clinic=clinic,
            by=clinician,
            data={
                "full_name": EARLY_CHECK_PATIENT,
                "email": "oluwaseun.barrett@example.org",
                "phone": "07700 900098",
                "year_of_birth": 1951,
                "sex": "male",
                "consent_on": injected_on,
                "consent_version": "v1.0",
            },
        )
        plan = {"clinic": 0, "product": "prp", "protocol": _prp(rng, "poor")}
        data = _injection_data(rng, plan, injected_on=injected_on, clinician=clinician, knee="right")
        data["status"] = InjectionStatus.GIVEN
        injection_record(patient=patient, by=clinician, data=data)
        follow_ups = {fu.timepoint: fu for fu in FollowUp.objects.filter(patient=patient)}
        baseline = synth.prom_form(rng, 0.55) | {"VAS.pain": "38"}
        answered = questionnaire_submit(
            follow_up=follow_ups[Timepoint.BASELINE], data=baseline, source=SubmissionSource.CLINIC_TABLET
        )
        flags_evaluate(answered.pk)
        check = follow_ups[Timepoint.DAY_3]
        items = get_instrument("SAFETY_EARLY").items_for_product(check.plan.product)
        answers = {f"SAFETY_EARLY.{item.code}": "no" for item in items if item.type == "yesno"}
        answers |= {"SAFETY_EARLY.swelling": "yes", "VAS.pain": "70"}
        submission = questionnaire_submit(follow_up=check, data=answers)
        flags_evaluate(submission.pk)
        showcase.cancelled_by_now(patient)
        return 1

    def _susar_candidates(self, clinician) -> None:
        """Two SUSAR candidates after the exosome study injection (issue 15): one whose 15-day clock has one day
        left (on the attention page), and one already reported to the sponsor (on its event page)."""
        today = timezone.localdate()
        injection = Injection.objects.filter(product="exosome", status=InjectionStatus.GIVEN).order_by("pk").first()
        if injection is None:
            return
        serious = {
            "patient": injection.patient,
            "injections": [injection],
            "source": "clinician",
            "severity": 3,
            "serious_hospitalisation": True,
            "causality_product": "possible",
            "causality_procedure": "unlikely",
            "relatedness": "injection",
            "expectedness": "unexpected",
            "action_taken": "admission",
            "outcome": "recovering",
        }
        # Day 0 fourteen days ago: a 15-day clock with one day left (later if the injection is more recent).
        aware = max(today - dt.timedelta(days=14), injection.injected_on + dt.timedelta(days=1))
        adverse_event_record(
            by=clinician,
            data={
                **serious,
                "onset_on": min(injection.injected_on + dt.timedelta(days=1), aware),
                "aware_on": aware,
                "category": "allogeneic_reaction",
                "description": "Fever, rash and a hot swollen knee the day after the study injection; admitted for "
                "observation, cultures negative.",
            },
        )
        aware = max(today - dt.timedelta(days=10), injection.injected_on + dt.timedelta(days=1))
        reported = adverse_event_record(
            by=clinician,
            data={
                **serious,
                "onset_on": min(injection.injected_on + dt.timedelta(days=1), aware),
                "aware_on": aware,
                "category": "effusion",
                "description": "Large tense effusion needing aspiration and an overnight stay; settling.",
            },
        )
        regulatory_report_record(
            event=reported,
            by=clinician,
            data={
                "route": "sponsor",
                "kind": "initial",
                "submitted_on": min(aware + dt.timedelta(days=3), today),
                "reference": "NKC-EXO-SAE-0007",
            },
        )

    def _consultations(self, clinic: Clinic, clinician) -> None:
        """CONSULTATIONS: new patients seen before any injection, through the consultation service. The first is
        given the patient's copy (a no-login link, shown once: kept in var/ for the demo, see patient_copy_file)."""
        from consultations.services import consultation_record, decision_aid_text_save, patient_copy_issue
        from notifications.emails import site_url

        decision_aid_text_save(clinic=clinic, by=clinician, data={"references": DEMO_REFERENCES})
        today = timezone.localdate()
        for index, (name, born, sex, ago, knee, answers) in enumerate(CONSULTATIONS):
            seen_on = today - dt.timedelta(days=ago)
            patient = patient_enrol(
                clinic=clinic,
                by=clinician,
                data={
                    "full_name": name,
                    "email": f"{name.lower().replace(' ', '.')}@example.org",
                    "year_of_birth": born,
                    "sex": sex,
                    "consent_on": seen_on,
                    "consent_version": "v1.0",
                },
            )
            consultation = consultation_record(
                patient=patient,
                by=clinician,
                data={
                    "knee": knee,
                    "consulted_on": seen_on,
                    "bmi": Decimal("28.4"),
                    "alignment": "neutral",
                    "activity_level": 3,
                    "previous_treatments": ["physiotherapy", "analgesia"],
                    **answers,
                },
            )
            if index == 0:
                token = patient_copy_issue(consultation=consultation, by=clinician).token
                patient_copy_file().write_text(f"{name}'s copy of the consultation: {site_url(f'/copy/{token}/')}\n")

    def _fallback_reviews(self, rng: random.Random, clinic: Clinic, clinician) -> int:
        """REVIEWS: a consultation, the injection recorded from it, its follow-ups as by today, the answers given,
        and the review (with the repeat course when that is what the patient took), through the services."""
        from consultations.review_services import record_review
        from consultations.services import consultation_link_injection, consultation_record

        today = timezone.localdate()
        injected_on = today - dt.timedelta(days=REVIEW_INJECTED_DAYS_AGO)
        injections = 0
        for name, born, sex, knee, product, outcome, review in REVIEWS:
            patient = patient_enrol(
                clinic=clinic,
                by=clinician,
                data={
                    "full_name": name,
                    "email": f"{name.lower().replace(' ', '.')}@example.org",
                    "year_of_birth": born,
                    "sex": sex,
                    "consent_on": injected_on - dt.timedelta(days=10),
                    "consent_version": "v1.0",
                },
            )
            consultation = consultation_record(
                patient=patient,
                by=clinician,
                data={
                    "knee": knee,
                    "consulted_on": injected_on - dt.timedelta(days=7),
                    "kl_grade": 2,
                    "bmi": Decimal("27.9"),
                    "alignment": "neutral",
                    "activity_level": 4,
                    "previous_treatments": ["physiotherapy", "analgesia"],
                    "indications": ["pain_despite_exercise", "early_oa"],
                    "alternatives_discussed": ["exercise", "weight", "prp", "ha", "bmac"],
                    "decision": "proceed",
                    "proposed_product": product,
                    "fallback_offer": (review or {}).get("offered") or ["physiotherapy", "repeat_injection"],
                },
            )
            plan_data = {"clinic": 0, "product": product, "protocol": synth._protocol(rng, product)}
            data = _injection_data(rng, plan_data, injected_on=injected_on, clinician=clinician, knee=knee)
            data["status"] = InjectionStatus.GIVEN
            injection = injection_record(patient=patient, by=clinician, data=data)
            consultation_link_injection(key=consultation.pk, injection=injection, by=clinician)
            injections += 1
            showcase.stamp_history(patient, recorded_on=injected_on)
            follow_ups = {fu.timepoint: fu for fu in FollowUp.objects.filter(plan=injection.plan)}
            health = rng.uniform(0.35, 0.45)
            answered = [Timepoint.BASELINE] + ([Timepoint.SIX_MONTHS] if outcome == "same" else [])
            for timepoint in answered:
                follow_up = follow_ups[timepoint]
                submission = questionnaire_submit(
                    follow_up=follow_up,
                    data=synth.prom_form(rng, health) | _nothing_else(follow_up),
                    source=SubmissionSource.STAFF_ENTERED,
                    entered_by=clinician,
                )
                # Answered on the day it was due (entered today only because the demo is built today).
                follow_up.refresh_from_db()
                answered_at = dt.datetime.combine(follow_up.due_on, dt.time(11), tzinfo=clinic.tzinfo)
                Submission.objects.filter(pk=submission.pk).update(submitted_at=answered_at, late=False)
                flags_evaluate(submission.pk)
            if review is None:
                continue
            record_review(
                user=clinician, plan=injection.plan, data={"reviewed_on": today - dt.timedelta(days=30), **review}
            )
            if review["path_taken"] == "repeat_injection":
                # Given today (so its baseline is still collectable, as for a course recorded at the visit).
                data = _injection_data(rng, plan_data, injected_on=today, clinician=clinician, knee=knee)
                data["status"] = InjectionStatus.GIVEN
                injection_record(patient=patient, by=clinician, data=data, repeat_of=injection.plan)
                injections += 1
        return injections

    def _both_knees_today(self, rng: random.Random, clinic: Clinic, clinician, showcase) -> int:
        """A patient injected in both knees today, whose baseline invitations are due now (one email, two links)."""
        today = timezone.localdate()
        patient = patient_enrol(
            clinic=clinic,
            by=clinician,
            data={
                "full_name": BOTH_KNEES_PATIENT,
                "email": "grace.adeyemi@example.org",
                "phone": "07700 900099",
                "year_of_birth": 1958,
                "sex": "female",
                "consent_on": today,
                "consent_version": "v1.0",
                "consent_sms_contact": True,
            },
        )
        plan = {"clinic": 0, "product": "ha", "protocol": _ha(rng)}
        for knee in ("left", "right"):
            data = _injection_data(rng, plan, injected_on=today, clinician=clinician, knee=knee)
            data["status"] = InjectionStatus.GIVEN
            injection_record(patient=patient, by=clinician, data=data)
        showcase.send_now(patient)
        return 2

    def _texts_only_today(self, rng: random.Random, clinic: Clinic, clinician, showcase) -> int:
        """TEXTS_ONLY_PATIENT: injected today, her baseline invitation goes by text (due now)."""
        today = timezone.localdate()
        patient = patient_enrol(
            clinic=clinic,
            by=clinician,
            data={
                "full_name": TEXTS_ONLY_PATIENT,
                "phone": "07700 900077",
                "year_of_birth": 1961,
                "sex": "female",
                "consent_on": today,
                "consent_version": "v1.0",
                "consent_email_contact": False,
                "consent_sms_contact": True,
            },
        )
        plan = {"clinic": 0, "product": "ha", "protocol": _ha(rng)}
        data = _injection_data(rng, plan, injected_on=today, clinician=clinician, knee="left")
        data["status"] = InjectionStatus.GIVEN
        injection_record(patient=patient, by=clinician, data=data)
        showcase.send_now(patient)
        return 1

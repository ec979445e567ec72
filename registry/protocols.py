"""Product-specific protocol records: one definition per product that renders, validates and scores completeness.

Each product's protocol is a Django form. The web page renders it, the model's clean() and the API validate
with it, so a rule lives here once whatever the entry point (web, admin, API, import). The numeric fields take
their limits, unit and help text from registry.plausibility's table.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from registry import plausibility
from registry.choices import Alignment, Pathology, PreviousTreatment, Product

_POSITIVE = {"min_value": Decimal("0")}


def _decimal(label, *, required=False, max_digits=10, decimal_places=2, help_text="", **kw):
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=max_digits,
        decimal_places=decimal_places,
        help_text=help_text,
        **{**_POSITIVE, **kw},
    )


def _choice(label, choices, *, required=True, help_text=""):
    return forms.ChoiceField(label=label, choices=[("", "—"), *choices], required=required, help_text=help_text)


class HarvestSite(models.TextChoices):
    ANTERIOR_ILIAC = "anterior_iliac_crest", "Anterior iliac crest"
    POSTERIOR_ILIAC = "posterior_iliac_crest", "Posterior iliac crest"
    PROXIMAL_TIBIA = "proximal_tibia", "Proximal tibia"
    DISTAL_FEMUR = "distal_femur", "Distal femur"
    OTHER = "other", "Other"


class ProcessingMethod(models.TextChoices):
    CENTRIFUGATION = "centrifugation", "Centrifugation"
    FILTRATION = "filtration", "Filtration / selective retention"
    UNPROCESSED = "unprocessed", "Unprocessed aspirate"
    OTHER = "other", "Other"


class HarvestComplication(models.TextChoices):
    NONE = "none", "None"
    PAIN = "pain", "Donor-site pain beyond expected"
    HAEMATOMA = "haematoma", "Haematoma"
    INFECTION = "infection", "Infection"
    NERVE = "nerve", "Nerve irritation"
    OTHER = "other", "Other"


class ProtocolForm(forms.Form):
    """A product's protocol record. Its clean() refuses a part recorded as more than its whole
    (registry.plausibility.AT_MOST); ``stored`` (set by allow_stored_values) spares pairs a correction keeps."""

    product: str = ""
    stored: dict | None = None

    def clean(self):
        data = super().clean()
        for field, problem in plausibility.parts_exceeding(self.product, data, stored=self.stored).items():
            if field not in self.errors:
                self.add_error(field, ValidationError(problem, code="more_than_whole"))
        return data


class BMACProtocol(ProtocolForm):
    product = Product.BMAC
    harvest_site = _choice("Harvest site", HarvestSite.choices)
    aspiration_device = forms.CharField(label="Aspiration needle / device", required=False, max_length=120)
    aspiration_pulls = forms.IntegerField(label="Number of pulls", required=False, min_value=1, max_value=50)
    aspirate_volume_ml = _decimal(
        "Aspirate volume (mL)", required=True, max_digits=5, decimal_places=1, max_value=Decimal("500")
    )
    anticoagulant = _choice(
        "Anticoagulant", [("acd_a", "ACD-A"), ("heparin", "Heparin"), ("none", "None"), ("other", "Other")]
    )
    processing_system = forms.CharField(
        label="Processing system", max_length=120, help_text="Device or kit, e.g. the centrifuge system's name."
    )
    processing_method = _choice("Processing method", ProcessingMethod.choices)
    spins = forms.IntegerField(label="Number of spins", required=False, min_value=0, max_value=5)
    spin_minutes = forms.IntegerField(label="Total spin time (min)", required=False, min_value=0, max_value=120)
    concentrate_volume_ml = _decimal(
        "Concentrate volume (mL)", required=True, max_digits=5, decimal_places=1, max_value=Decimal("200")
    )
    tnc_per_ml = _decimal("TNC (×10⁶/mL)", help_text="Total nucleated cells")
    mnc_per_ml = _decimal("MNC (×10⁶/mL)", help_text="Mononuclear cells")
    cfu_f_per_ml = _decimal("CFU-F (/mL)", help_text="Colony-forming units, fibroblast")
    anaesthesia = _choice(
        "Harvest anaesthesia", [("local", "Local"), ("sedation", "Sedation"), ("general", "General")], required=False
    )
    harvest_complication = _choice("Harvest-site complication", HarvestComplication.choices, required=False)
    harvest_complication_notes = forms.CharField(
        label="Harvest complication notes", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("processing_method") == ProcessingMethod.CENTRIFUGATION and data.get("spins") == 0:
            self.add_error("spins", "Centrifugation needs at least one spin.")
        complication = data.get("harvest_complication")
        if complication and complication not in ("none",) and not data.get("harvest_complication_notes"):
            self.add_error("harvest_complication_notes", "Describe the harvest-site complication.")
        return data


class PRPProtocol(ProtocolForm):
    product = Product.PRP

    leukocytes = _choice("Leukocytes", [("rich", "Leukocyte-rich"), ("poor", "Leukocyte-poor")])
    preparation_system = forms.CharField(label="Preparation system", required=False, max_length=120)
    blood_volume_ml = _decimal("Whole blood drawn (mL)", max_digits=5, decimal_places=1)
    spins = forms.IntegerField(label="Number of spins", min_value=1, max_value=5)
    platelet_count = forms.IntegerField(
        label="Platelet count (×10³/µL)", help_text="If measured", required=False, min_value=0, max_value=10_000_000
    )
    activation = _choice(
        "Activation",
        [
            ("none", "Not activated"),
            ("calcium_chloride", "Calcium chloride"),
            ("thrombin", "Thrombin"),
            ("other", "Other"),
        ],
    )


class HAProtocol(ProtocolForm):
    product = Product.HA

    product_name = forms.CharField(label="HA product", max_length=120)
    molecular_weight = _choice(
        "Molecular weight",
        [
            ("low", "Low (<1,500 kDa)"),
            ("medium", "Medium"),
            ("high", "High (>6,000 kDa)"),
            ("cross_linked", "Cross-linked"),
        ],
    )
    dose_mg = _decimal("Dose (mg)", required=True, max_digits=6, decimal_places=1, min_value=Decimal("0.1"))


class ExosomeProtocol(ProtocolForm):
    """Extracellular-vesicle products: no approved product exists, so source and characterisation are required
    (MISEV2018 minimal information: particle count by a stated method, and marker results)."""

    product = Product.EXOSOME

    source_material = _choice(
        "Source material",
        [
            ("umbilical_cord_msc", "Umbilical cord MSC"),
            ("bone_marrow_msc", "Bone marrow MSC"),
            ("adipose_msc", "Adipose MSC"),
            ("placental", "Placental / amniotic"),
            ("platelet", "Platelet-derived"),
            ("other", "Other"),
        ],
    )
    manufacturer = forms.CharField(label="Manufacturer / supplier", max_length=200)
    batch_lot = forms.CharField(label="Batch / lot", max_length=80)
    particle_concentration = forms.FloatField(label="Particle concentration (particles/mL)", min_value=0)
    sizing_method = _choice(
        "Particle sizing / counting method",
        [
            ("nta", "Nanoparticle tracking analysis"),
            ("trps", "Tunable resistive pulse sensing"),
            ("flow", "High-resolution flow cytometry"),
            ("other", "Other"),
        ],
    )
    size_mode_nm = _decimal("Size mode (nm)", max_digits=6, decimal_places=1)
    positive_markers = forms.CharField(
        label="Positive markers", max_length=200, help_text="e.g. CD9, CD63, CD81, TSG101"
    )
    negative_markers = forms.CharField(
        label="Negative / purity markers", required=False, max_length=200, help_text="e.g. calnexin"
    )
    dose_particles = forms.FloatField(label="Dose (particles)", min_value=0)


class ADSCProtocol(ProtocolForm):
    product = Product.ADSC

    preparation = _choice(
        "Preparation",
        [
            ("svf", "Stromal vascular fraction"),
            ("microfragmented", "Micro-fragmented adipose"),
            ("culture_expanded", "Culture-expanded ADSCs"),
        ],
    )
    harvest_site = _choice(
        "Lipoaspirate site", [("abdomen", "Abdomen"), ("thigh", "Thigh"), ("flank", "Flank"), ("other", "Other")]
    )
    lipoaspirate_volume_ml = _decimal("Lipoaspirate volume (mL)", required=True, max_digits=5, decimal_places=1)
    processing = _choice("Processing", [("enzymatic", "Enzymatic"), ("mechanical", "Mechanical")])
    cell_count = forms.FloatField(label="Cells injected", required=False, min_value=0)
    viability_percent = _decimal("Viability (%)", max_digits=4, decimal_places=1, max_value=Decimal("100"))


class CorticosteroidProtocol(ProtocolForm):
    product = Product.CORTICOSTEROID

    drug = _choice(
        "Drug",
        [
            ("triamcinolone_acetonide", "Triamcinolone acetonide"),
            ("triamcinolone_er", "Triamcinolone extended-release"),
            ("methylprednisolone_acetate", "Methylprednisolone acetate"),
            ("betamethasone", "Betamethasone"),
            ("dexamethasone", "Dexamethasone"),
            ("other", "Other"),
        ],
    )
    dose_mg = _decimal("Dose (mg)", required=True, max_digits=5, decimal_places=1, min_value=Decimal("0.1"))
    local_anaesthetic = forms.CharField(label="Local anaesthetic mixed in", required=False, max_length=120)


class SalineProtocol(ProtocolForm):
    product = Product.SALINE

    purpose = _choice(
        "Purpose", [("control", "Control / placebo arm"), ("lavage", "Lavage"), ("other", "Other")], required=False
    )


class OtherProtocol(ProtocolForm):
    product = Product.OTHER

    description = forms.CharField(
        label="Product and preparation",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="No structured record fits this product: describe it fully.",
    )


PROTOCOL_FORMS: dict[str, type[forms.Form]] = {
    Product.BMAC: BMACProtocol,
    Product.PRP: PRPProtocol,
    Product.HA: HAProtocol,
    Product.EXOSOME: ExosomeProtocol,
    Product.ADSC: ADSCProtocol,
    Product.CORTICOSTEROID: CorticosteroidProtocol,
    Product.SALINE: SalineProtocol,
    Product.OTHER: OtherProtocol,
}


class HardLimit:
    """Refuses a value outside a field's possible range (registry.plausibility), saying why."""

    def __init__(self, limits: plausibility.PlausibleRange):
        self.limits = limits

    def __call__(self, value) -> None:
        problem = plausibility.refusal(self.limits, value)
        if problem:
            raise ValidationError(problem, code="implausible")


_NUMERIC = (forms.IntegerField, forms.DecimalField, forms.FloatField)


def _apply_ranges() -> None:
    """Give every numeric protocol field its limits, unit and help text from the one table."""
    for product, form_class in PROTOCOL_FORMS.items():
        for name, field in form_class.base_fields.items():
            if not isinstance(field, _NUMERIC):
                continue
            limits = plausibility.range_for(product, name)
            if limits is None:
                raise ImproperlyConfigured(f"{product}.{name} has no plausible range in registry.plausibility.")
            field.min_value, field.max_value = limits.hard
            field.validators = [
                *(v for v in field.validators if not isinstance(v, MinValueValidator | MaxValueValidator)),
                HardLimit(limits),
            ]
            field.widget.attrs.update(min=str(limits.hard[0]), max=str(limits.hard[1]))
            field.unit = limits.unit
            wholes = [
                f"Not more than the {_label(form_class, rule.whole)}{f' × {rule.scale:,}' if rule.scale != 1 else ''}."
                for rule in plausibility.AT_MOST
                if rule.product == product and rule.part == name
            ]
            help_text = ". ".join(filter(None, [str(field.help_text).rstrip("."), limits.describe()]))
            field.help_text = " ".join([help_text, *wholes])


def _label(form_class: type[forms.Form], name: str) -> str:
    field = form_class.base_fields.get(name)
    label = str(field.label) if field else name.replace("_", " ")
    return label[0].lower() + label[1:] if label[:3] not in ("TNC", "MNC") else label


_apply_ranges()


def allow_stored_values(form: forms.Form, stored: dict | None) -> None:
    """On a bound protocol form correcting a stored record: a value kept as stored is not refused by a limit
    added since it was recorded (registry.plausibility.warnings asks the person to confirm it instead)."""
    form.stored = stored
    for name, field in form.fields.items():
        if stored and name in stored and plausibility.same(stored[name], form[name].data):
            field.validators = [v for v in field.validators if not isinstance(v, HardLimit)]


# Products that may only be given under a registered study (no approved product exists).
GOVERNANCE_REQUIRED = {Product.EXOSOME}

_REGISTRATION = re.compile(
    r"^(NCT\d{8}|ISRCTN\d{8}|EUCTR\d{4}-\d{6}-\d{2}|\d{4}-5\d{5}-\d{2}-\d{2}|ACTRN\d{14}|DRKS\d{8}|CHICTR[\w-]+)$"
)


class GovernanceForm(forms.Form):
    study_registration = forms.CharField(
        label="Study registration number",
        max_length=40,
        help_text="Trial registry identifier, e.g. NCT01234567 or ISRCTN12345678.",
    )
    ethics_reference = forms.CharField(label="Ethics approval reference", max_length=80)
    regulatory_framework = _choice(
        "Regulatory framework",
        [
            ("fda_ind", "FDA IND"),
            ("eu_ctr", "EU Clinical Trials Regulation"),
            ("uk_cta", "UK MHRA CTA"),
            ("hospital_exemption", "Hospital exemption"),
            ("other", "Other (state in notes)"),
        ],
    )
    authorisation_number = forms.CharField(label="IND / CTA number", required=False, max_length=40)
    sponsor = forms.CharField(label="Sponsor", required=False, max_length=200)
    notes = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_study_registration(self):
        value = self.cleaned_data["study_registration"].strip().upper().replace(" ", "")
        if not _REGISTRATION.match(value):
            raise ValidationError(
                "Not a recognised trial registration number (e.g. NCT01234567, ISRCTN12345678, "
                "EUCTR2019-001234-22, ACTRN12619000123456)."
            )
        return value


def _to_json(cleaned: dict) -> dict:
    """Keep recorded values only, as JSON-safe numbers and strings."""
    out = {}
    for key, value in cleaned.items():
        if value in (None, ""):
            continue
        if isinstance(value, Decimal):
            # Whole numbers stay integers so a stored value re-validates against decimal_places=0.
            value = int(value) if value == value.to_integral_value() else float(value)
        out[key] = value
    return out


def _run(form_class: type[forms.Form], data, *, stored: dict | None = None) -> tuple[dict, dict[str, list[str]]]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return {}, {"__all__": ["Must be an object of named fields."]}
    unknown = sorted(set(data) - set(form_class.base_fields))
    errors: dict[str, list[str]] = {key: ["Unknown field."] for key in unknown}
    form = form_class(data={k: ("" if v is None else v) for k, v in data.items() if k not in unknown})
    allow_stored_values(form, stored)
    if not form.is_valid():
        for field, messages in form.errors.items():
            errors.setdefault(field, []).extend(messages)
    return (_to_json(form.cleaned_data) if not errors else {}), errors


def validate_protocol(product: str, data, *, stored: dict | None = None) -> tuple[dict, dict[str, list[str]]]:
    """Return (clean protocol, {field: [messages]}) for a product's protocol record. ``stored``: the record as the
    database holds it, when correcting one (values kept from it are not refused by limits added since)."""
    form_class = PROTOCOL_FORMS.get(product)
    if form_class is None:
        return {}, {"product": [f"Unknown product {product!r}."]}
    return _run(form_class, data, stored=stored)


def validate_governance(product: str, data) -> tuple[dict, dict[str, list[str]]]:
    if not data:
        if product in GOVERNANCE_REQUIRED:
            missing = ", ".join(f.label.lower() for f in GovernanceForm.base_fields.values() if f.required)
            return {}, {
                "__all__": [
                    f"{Product(product).label} injections can only be recorded under a registered study. "
                    f"Missing: {missing}."
                ]
            }
        return {}, {}
    return _run(GovernanceForm, data)


def validate_selection(*, alignment, alignment_degrees, previous_treatments, pathology) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if alignment in (Alignment.VARUS, Alignment.VALGUS) and alignment_degrees is None:
        errors["alignment_degrees"] = [f"Give the degrees of {alignment} deformity."]
    if alignment == Alignment.NEUTRAL and alignment_degrees:
        errors["alignment_degrees"] = ["A neutral knee has no deformity degrees."]
    for field, value, vocabulary in (
        ("previous_treatments", previous_treatments, PreviousTreatment),
        ("pathology", pathology, Pathology),
    ):
        if not isinstance(value, list):
            errors[field] = ["Must be a list of codes."]
            continue
        unknown = [v for v in value if v not in vocabulary.values]
        if unknown:
            errors[field] = [
                f"Unknown code(s): {', '.join(map(str, unknown))}. Choose from: {', '.join(vocabulary.values)}."
            ]
    return errors


# --- Completeness against orthobiologic reporting checklists (MIBO-style items) ----------------------------------
# Each item names what a report should state and where we hold it: an injection field or protocol key(s);
# an item with several keys counts as recorded when any of them is.


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    injection_field: str = ""
    protocol_keys: tuple[str, ...] = ()


_COMMON = (
    ChecklistItem("Image guidance", injection_field="guidance"),
    ChecklistItem("Volume injected", injection_field="volume_ml"),
    ChecklistItem("Rehabilitation plan", injection_field="rehabilitation"),
    ChecklistItem("Kellgren-Lawrence grade", injection_field="kl_grade"),
    ChecklistItem("BMI", injection_field="bmi"),
    ChecklistItem("Alignment", injection_field="alignment"),
    ChecklistItem("Activity level", injection_field="activity_level"),
)

CHECKLISTS: dict[str, tuple[ChecklistItem, ...]] = {
    Product.BMAC: (
        ChecklistItem("Harvest site", protocol_keys=("harvest_site",)),
        ChecklistItem("Harvest technique (device, pulls)", protocol_keys=("aspiration_device", "aspiration_pulls")),
        ChecklistItem("Aspirate volume", protocol_keys=("aspirate_volume_ml",)),
        ChecklistItem("Anticoagulant", protocol_keys=("anticoagulant",)),
        ChecklistItem("Processing system", protocol_keys=("processing_system",)),
        ChecklistItem("Processing method", protocol_keys=("processing_method",)),
        ChecklistItem("Centrifugation parameters", protocol_keys=("spins", "spin_minutes")),
        ChecklistItem("Concentrate volume", protocol_keys=("concentrate_volume_ml",)),
        ChecklistItem("Cell counts (TNC, MNC or CFU-F)", protocol_keys=("tnc_per_ml", "mnc_per_ml", "cfu_f_per_ml")),
        ChecklistItem("Harvest anaesthesia", protocol_keys=("anaesthesia",)),
        *_COMMON,
    ),
    Product.PRP: (
        ChecklistItem("Preparation system", protocol_keys=("preparation_system",)),
        ChecklistItem("Whole blood volume", protocol_keys=("blood_volume_ml",)),
        ChecklistItem("Spins", protocol_keys=("spins",)),
        ChecklistItem("Leukocyte content", protocol_keys=("leukocytes",)),
        ChecklistItem("Platelet count", protocol_keys=("platelet_count",)),
        ChecklistItem("Activation", protocol_keys=("activation",)),
        *_COMMON,
    ),
    Product.HA: (
        ChecklistItem("Product", protocol_keys=("product_name",)),
        ChecklistItem("Molecular weight", protocol_keys=("molecular_weight",)),
        ChecklistItem("Dose", protocol_keys=("dose_mg",)),
        *_COMMON,
    ),
    Product.EXOSOME: (
        ChecklistItem("Source material", protocol_keys=("source_material",)),
        ChecklistItem("Manufacturer and batch", protocol_keys=("batch_lot",)),
        ChecklistItem("Particle concentration and method", protocol_keys=("particle_concentration",)),
        ChecklistItem("Size distribution", protocol_keys=("size_mode_nm",)),
        ChecklistItem("Positive markers", protocol_keys=("positive_markers",)),
        ChecklistItem("Negative / purity markers", protocol_keys=("negative_markers",)),
        ChecklistItem("Dose", protocol_keys=("dose_particles",)),
        *_COMMON,
    ),
    Product.ADSC: (
        ChecklistItem("Preparation", protocol_keys=("preparation",)),
        ChecklistItem("Harvest site", protocol_keys=("harvest_site",)),
        ChecklistItem("Lipoaspirate volume", protocol_keys=("lipoaspirate_volume_ml",)),
        ChecklistItem("Processing", protocol_keys=("processing",)),
        ChecklistItem("Cell dose", protocol_keys=("cell_count",)),
        ChecklistItem("Viability", protocol_keys=("viability_percent",)),
        *_COMMON,
    ),
    Product.CORTICOSTEROID: (
        ChecklistItem("Drug", protocol_keys=("drug",)),
        ChecklistItem("Dose", protocol_keys=("dose_mg",)),
        *_COMMON,
    ),
    Product.SALINE: (ChecklistItem("Purpose", protocol_keys=("purpose",)), *_COMMON),
    Product.OTHER: (ChecklistItem("Product description", protocol_keys=("description",)), *_COMMON),
}


@dataclass(frozen=True)
class Completeness:
    recorded: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def percent(self) -> int:
        total = len(self.recorded) + len(self.missing)
        return round(100 * len(self.recorded) / total) if total else 100


def _answered(value) -> bool:
    """Blank is "not recorded"; anything else is an answer, explicit negatives ("none", "not activated", 0
    spins, Tegner 0) included: a report that says "no structured rehabilitation" states its rehabilitation."""
    return value is not None and value != "" and value != []


def completeness(injection) -> Completeness:
    recorded, missing = [], []
    protocol = injection.protocol or {}
    for item in CHECKLISTS.get(injection.product, _COMMON):
        if item.injection_field:
            present = _answered(getattr(injection, item.injection_field))
        else:
            present = any(_answered(protocol.get(k)) for k in item.protocol_keys)
        (recorded if present else missing).append(item.label)
    return Completeness(tuple(recorded), tuple(missing))

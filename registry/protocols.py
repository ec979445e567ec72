"""Product-specific protocol records: one definition per product that renders, validates and scores completeness.

Each product's protocol is a Django form. The web page renders it, the model's clean() and the API validate
with it, so a rule lives here once whatever the entry point (web, admin, API, import). The numeric fields take
their limits, unit and help text from registry.plausibility's table.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
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
    # Not concentrated, so not BMAC: the record is named BMA wherever it is shown (registry.doses.product_label).
    UNPROCESSED = "unprocessed", "None: BMA (unprocessed bone marrow aspirate)"
    OTHER = "other", "Other"


class CountMethod(models.TextChoices):
    ANALYSER = "analyser", "Haematology analyser"
    HAEMOCYTOMETER = "haemocytometer", "Haemocytometer (manual)"
    FLOW = "flow_cytometry", "Flow cytometry"


class CD34Method(models.TextChoices):
    ISHAGE_SINGLE = "ishage_single", "Flow cytometry, ISHAGE single-platform"
    ISHAGE_DUAL = "ishage_dual", "Flow cytometry, ISHAGE dual-platform"
    OTHER_FLOW = "other_flow", "Flow cytometry, other gating"


class ViabilityMethod(models.TextChoices):
    TRYPAN_BLUE = "trypan_blue", "Trypan blue"
    SEVEN_AAD = "7aad", "7-AAD (flow cytometry)"
    PROPIDIUM_IODIDE = "propidium_iodide", "Propidium iodide"
    AO_PI = "ao_pi", "Acridine orange / propidium iodide"
    OTHER = "other", "Other"


YES_NO = [("yes", "Yes"), ("no", "No")]


class HarvestComplication(models.TextChoices):
    NONE = "none", "None"
    PAIN = "pain", "Donor-site pain beyond expected"
    HAEMATOMA = "haematoma", "Haematoma"
    INFECTION = "infection", "Infection"
    NERVE = "nerve", "Nerve irritation"
    OTHER = "other", "Other"


class ProtocolForm(forms.Form):
    """A product's protocol record. Its clean() refuses a part recorded as more than its whole
    (registry.plausibility.AT_MOST); ``stored`` (set by allow_stored_values) spares pairs a correction keeps.

    ``methods`` names, for each count, the field stating how it was measured: required once the count is given,
    except on a record stored before methods were asked for whose count a correction keeps unchanged.
    ``new_record_requires`` lists fields required of new records only (stored records stay editable without them)."""

    product: str = ""
    stored: dict | None = None
    methods: dict[str, str] = {}
    new_record_requires: tuple[str, ...] = ()

    def clean(self):
        data = super().clean()
        for field, problem in plausibility.parts_exceeding(self.product, data, stored=self.stored).items():
            if field not in self.errors:
                self.add_error(field, ValidationError(problem, code="more_than_whole"))
        for count, method in self.methods.items():
            if data.get(count) is None or data.get(method) or method in self.errors or not self.is_new(count):
                continue
            label = re.sub(r" \(.*\)$", "", _label(type(self), count))
            self.add_error(method, ValidationError(f"Say which method measured the {label}.", code="method_required"))
        if self.stored is None:
            for name in self.new_record_requires:
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, ValidationError("This field is required.", code="required"))
        return data

    def is_new(self, name: str) -> bool:
        """Whether ``name`` is entered now (a new record, or a correction that changes it)."""
        if self.stored is None:
            return True
        return not plausibility.same(self.stored.get(name), self.cleaned_data.get(name))


class BMACProtocol(ProtocolForm):
    product = Product.BMAC
    methods = {
        "aspirate_tnc_per_ml": "tnc_method",
        "tnc_per_ml": "tnc_method",
        "mnc_per_ml": "mnc_method",
        "cd34_per_ml": "cd34_method",
        "viability_percent": "viability_method",
    }
    harvest_site = _choice("Harvest site", HarvestSite.choices)
    aspiration_device = forms.CharField(label="Aspiration needle / device", required=False, max_length=120)
    needle_type = _choice(
        "Needle type",
        [
            ("trocar", "Open-tip trocar (e.g. Jamshidi)"),
            ("closed_tip_side_port", "Closed-tip, side-port"),
            ("fenestrated", "Fenestrated / multi-port"),
            ("other", "Other"),
        ],
        required=False,
    )
    needle_gauge = forms.IntegerField(label="Needle gauge (G)", required=False)
    ml_per_pull = _decimal(
        "Volume per pull (mL)", max_digits=4, decimal_places=1, help_text="Smaller pulls dilute less"
    )
    aspiration_pulls = forms.IntegerField(label="Number of pulls", required=False, min_value=1, max_value=50)
    aspirate_volume_ml = _decimal(
        "Aspirate volume (mL)", required=True, max_digits=5, decimal_places=1, max_value=Decimal("500")
    )
    anticoagulant = _choice(
        "Anticoagulant", [("acd_a", "ACD-A"), ("heparin", "Heparin"), ("none", "None"), ("other", "Other")]
    )
    anticoagulant_ratio = forms.RegexField(
        label="Anticoagulant ratio (anticoagulant : marrow)",
        regex=r"^\d{1,3}(\.\d)?:\d{1,3}(\.\d)?$",
        required=False,
        max_length=12,
        help_text="e.g. 1:10",
        error_messages={"invalid": "Give the ratio as anticoagulant:marrow, e.g. 1:10."},
    )
    system_closure = _choice(
        "Open or closed system", [("closed", "Closed (sterile, no open transfer)"), ("open", "Open")], required=False
    )
    processing_system = forms.CharField(
        label="Processing system", max_length=120, help_text="Device or kit, e.g. the centrifuge system's name."
    )
    processing_method = _choice("Processing method", ProcessingMethod.choices)
    spins = forms.IntegerField(label="Number of spins", required=False, min_value=0, max_value=5)
    spin_minutes = forms.IntegerField(label="Total spin time (min)", required=False, min_value=0, max_value=120)
    first_spin_g = forms.IntegerField(
        label="First spin force (×g)", required=False, help_text="Relative force, not rpm"
    )
    first_spin_minutes = forms.IntegerField(label="First spin time (min)", required=False)
    second_spin_g = forms.IntegerField(label="Second spin force (×g)", required=False)
    second_spin_minutes = forms.IntegerField(label="Second spin time (min)", required=False)
    concentrate_volume_ml = _decimal(
        "Concentrate volume (mL)", required=True, max_digits=5, decimal_places=1, max_value=Decimal("200")
    )
    aspirate_tnc_per_ml = _decimal(
        "Aspirate TNC (×10⁶/mL)", help_text="Before processing: gives the concentration factor"
    )
    tnc_per_ml = _decimal("TNC (×10⁶/mL)", help_text="Total nucleated cells")
    tnc_method = _choice("TNC count method", CountMethod.choices, required=False)
    mnc_per_ml = _decimal("MNC (×10⁶/mL)", help_text="Mononuclear cells")
    mnc_method = _choice("MNC count method", CountMethod.choices, required=False)
    cd34_per_ml = _decimal("CD34+ cells (×10⁶/mL)", max_digits=8, decimal_places=3)
    cd34_method = _choice("CD34+ count method", CD34Method.choices, required=False)
    cfu_f_per_ml = _decimal("CFU-F (/mL)", help_text="Colony-forming units, fibroblast (a culture assay)")
    viability_percent = _decimal("Viability (%)", max_digits=4, decimal_places=1)
    viability_method = _choice("Viability method", ViabilityMethod.choices, required=False)
    harvest_to_injection_minutes = forms.IntegerField(label="Harvest to injection (min)", required=False)
    ia_anaesthetic = _choice(
        "Intra-articular local anaesthetic",
        [
            ("none", "None"),
            ("lidocaine", "Lidocaine"),
            ("bupivacaine", "Bupivacaine"),
            ("ropivacaine", "Ropivacaine"),
            ("other", "Other"),
        ],
        required=False,
        help_text="Local anaesthetics are toxic to cells and chondrocytes: record any given into the joint",
    )
    ia_anaesthetic_volume_ml = _decimal("Intra-articular anaesthetic volume (mL)", max_digits=4, decimal_places=1)
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
        anaesthetic, volume = data.get("ia_anaesthetic"), data.get("ia_anaesthetic_volume_ml")
        if anaesthetic and anaesthetic != "none" and volume is None and self.is_new("ia_anaesthetic"):
            self.add_error("ia_anaesthetic_volume_ml", "Give the volume of local anaesthetic injected.")
        if volume and anaesthetic in (None, "", "none"):
            self.add_error("ia_anaesthetic", "Name the local anaesthetic of this volume.")
        return data


class PRPProtocol(ProtocolForm):
    """PRP with the whole-blood and PRP counts its classifications need (DEPA, PAW, PLRA: registry.doses)."""

    product = Product.PRP
    methods = {
        "blood_platelet_count": "blood_count_method",
        "blood_wbc_count": "blood_count_method",
        "blood_neutrophil_count": "blood_count_method",
        "platelet_count": "prp_count_method",
        "wbc_count": "prp_count_method",
        "neutrophil_count": "prp_count_method",
        "rbc_count": "prp_count_method",
    }

    leukocytes = _choice("Leukocytes", [("rich", "Leukocyte-rich"), ("poor", "Leukocyte-poor")])
    preparation_system = forms.CharField(label="Preparation system", required=False, max_length=120)
    blood_volume_ml = _decimal("Whole blood drawn (mL)", max_digits=5, decimal_places=1)
    spins = forms.IntegerField(label="Number of spins", min_value=1, max_value=5)
    prp_volume_ml = _decimal("PRP volume prepared (mL)", max_digits=5, decimal_places=1)
    blood_platelet_count = forms.IntegerField(label="Whole-blood platelets (×10³/µL)", required=False)
    blood_wbc_count = _decimal("Whole-blood leucocytes (×10³/µL)", max_digits=6, decimal_places=2)
    blood_neutrophil_count = _decimal("Whole-blood neutrophils (×10³/µL)", max_digits=6, decimal_places=2)
    blood_count_method = _choice("Whole-blood count method", CountMethod.choices, required=False)
    platelet_count = forms.IntegerField(label="PRP platelets (×10³/µL)", help_text="If measured", required=False)
    wbc_count = _decimal("PRP leucocytes (×10³/µL)", max_digits=6, decimal_places=2)
    neutrophil_count = _decimal("PRP neutrophils (×10³/µL)", max_digits=6, decimal_places=2)
    rbc_count = _decimal("PRP red cells (×10⁶/µL)", max_digits=5, decimal_places=3)
    prp_count_method = _choice("PRP count method", CountMethod.choices, required=False)
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

    new_record_requires = ("molecular_weight_kda", "cross_linked")

    product_name = forms.CharField(label="HA product", max_length=120)
    molecular_weight_kda = _decimal("Molecular weight (kDa)", max_digits=8, decimal_places=0)
    cross_linked = _choice("Cross-linked", YES_NO, required=False)
    source = _choice(
        "Source", [("avian", "Avian (rooster comb)"), ("bacterial", "Bacterial fermentation")], required=False
    )
    concentration_mg_per_ml = _decimal("Concentration (mg/mL)", max_digits=5, decimal_places=1)
    dose_mg = _decimal("Dose (mg)", required=True, max_digits=6, decimal_places=1, min_value=Decimal("0.1"))
    injections_in_course = forms.IntegerField(label="Injections in the course", required=False)
    # Records before molecular weight was asked in kDa hold a class (which left 1,500-6,000 kDa undefined and
    # mixed cross-linking in): kept, readable, and no longer asked for.
    molecular_weight = _choice(
        "Molecular weight class (older records)",
        [
            ("low", "Low (<1,500 kDa)"),
            ("medium", "Medium (1,500–6,000 kDa)"),
            ("high", "High (>6,000 kDa)"),
            ("cross_linked", "Cross-linked (molecular weight not stated)"),
        ],
        required=False,
    )


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
    methods = {"protein_ug_per_ml": "protein_method", "size_mean_nm": "sizing_method"}
    new_record_requires = (
        "isolation_method",
        "transmembrane_markers",
        "cytosolic_markers",
        "negative_markers",
        "marker_method",
        "sterility",
        "endotoxin_eu_per_ml",
        "mycoplasma",
        "coa_on_file",
        "gmp_status",
        "lot_expiry_on",
        "storage",
        "donor_source",
    )

    manufacturer = forms.CharField(label="Manufacturer / supplier", max_length=200)
    batch_lot = forms.CharField(label="Batch / lot number", max_length=80)
    lot_expiry_on = forms.DateField(
        label="Lot expiry date",
        required=False,
        help_text="An expired lot is refused",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    storage = _choice(
        "Storage",
        [
            ("minus_80", "Frozen, −80 °C or colder"),
            ("minus_20", "Frozen, −20 °C"),
            ("refrigerated", "Refrigerated, 2–8 °C"),
            ("lyophilised", "Lyophilised"),
            ("other", "Other"),
        ],
        required=False,
    )
    donor_source = _choice(
        "Donor", [("allogeneic", "Allogeneic (another person)"), ("autologous", "Autologous")], required=False
    )
    donor_screening = _choice(
        "Donor screening",
        [
            ("screened", "Screened and tested (infectious-disease markers, per tissue/cell donor rules)"),
            ("not_screened", "Not screened"),
            ("unknown", "Unknown"),
        ],
        required=False,
        help_text="Required for an allogeneic product",
    )
    isolation_method = _choice(
        "Isolation method",
        [
            ("ultracentrifugation", "Differential ultracentrifugation"),
            ("density_gradient", "Density gradient"),
            ("sec", "Size-exclusion chromatography"),
            ("tff", "Tangential flow filtration"),
            ("ultrafiltration", "Ultrafiltration"),
            ("precipitation", "Polymer precipitation"),
            ("immunoaffinity", "Immunoaffinity capture"),
            ("other", "Other"),
        ],
        required=False,
    )
    particle_concentration = forms.FloatField(label="Particle concentration (particles/mL)", min_value=0)
    protein_ug_per_ml = forms.FloatField(label="Protein (µg/mL)", required=False)
    protein_method = _choice(
        "Protein assay",
        [("bca", "BCA / micro-BCA"), ("bradford", "Bradford"), ("fluorometric", "Fluorometric"), ("other", "Other")],
        required=False,
    )
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
    size_mean_nm = _decimal("Size mean (nm)", max_digits=6, decimal_places=1)
    size_d10_nm = _decimal("Size D10 (nm)", max_digits=6, decimal_places=1)
    size_d90_nm = _decimal("Size D90 (nm)", max_digits=6, decimal_places=1)
    transmembrane_markers = forms.CharField(
        label="Transmembrane / GPI-anchored markers found",
        required=False,
        max_length=200,
        help_text="e.g. CD63, CD81, CD9",
    )
    cytosolic_markers = forms.CharField(
        label="Cytosolic markers found", required=False, max_length=200, help_text="e.g. TSG101, ALIX, syntenin"
    )
    negative_markers = forms.CharField(
        label="Negative / purity markers (absent)",
        required=False,
        max_length=200,
        help_text="e.g. calnexin, GM130; ApoA1 for plasma-derived",
    )
    marker_method = _choice(
        "Marker method",
        [
            ("western_blot", "Western blot"),
            ("flow", "Flow cytometry (bead-based or single-vesicle)"),
            ("elisa", "ELISA"),
            ("mass_spectrometry", "Mass spectrometry"),
            ("other", "Other"),
        ],
        required=False,
    )
    positive_markers = forms.CharField(
        label="Positive markers (older records)", required=False, max_length=200, help_text="e.g. CD9, CD63, TSG101"
    )
    sterility = _choice(
        "Sterility test", [("passed", "Passed"), ("failed", "Failed"), ("not_tested", "Not tested")], required=False
    )
    endotoxin_eu_per_ml = _decimal("Endotoxin (EU/mL)", max_digits=9, decimal_places=3)
    mycoplasma = _choice(
        "Mycoplasma", [("negative", "Negative"), ("positive", "Positive"), ("not_tested", "Not tested")], required=False
    )
    coa_on_file = _choice("Certificate of analysis on file", YES_NO, required=False)
    coa_reference = forms.CharField(label="Certificate of analysis reference", required=False, max_length=80)
    gmp_status = _choice(
        "Manufacturing standard",
        [("gmp", "GMP"), ("non_gmp", "Not GMP (research grade)"), ("unknown", "Unknown")],
        required=False,
    )
    dose_particles = forms.FloatField(label="Dose (particles)", min_value=0)

    def clean(self):
        data = super().clean()
        if data.get("coa_on_file") == "yes" and not data.get("coa_reference") and self.is_new("coa_on_file"):
            self.add_error("coa_reference", "Give the certificate of analysis reference.")
        if data.get("donor_source") == "allogeneic" and not data.get("donor_screening") and self.is_new("donor_source"):
            self.add_error("donor_screening", "Say how the allogeneic donor was screened.")
        return data


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
    methods = {"cell_count": "cell_count_method", "viability_percent": "viability_method"}
    cell_count = forms.FloatField(label="Cells injected", required=False, min_value=0)
    cell_count_method = _choice("Cell count method", CountMethod.choices, required=False)
    viability_percent = _decimal("Viability (%)", max_digits=4, decimal_places=1, max_value=Decimal("100"))
    viability_method = _choice("Viability method", ViabilityMethod.choices, required=False)


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
    formulation = _choice(
        "Formulation",
        [
            ("suspension", "Crystalline suspension"),
            ("solution", "Soluble solution"),
            ("extended_release", "Extended-release microspheres"),
            ("other", "Other"),
        ],
        required=False,
    )
    dose_mg = _decimal("Dose (mg)", required=True, max_digits=5, decimal_places=1, min_value=Decimal("0.1"))
    local_anaesthetic = forms.CharField(label="Local anaesthetic mixed in", required=False, max_length=120)
    prior_injections_12_months = forms.IntegerField(
        label="Earlier steroid injections in this knee, last 12 months", required=False
    )
    last_prior_injection_on = forms.DateField(
        label="Date of the last earlier steroid injection",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self):
        data = super().clean()
        prior = data.get("prior_injections_12_months")
        if prior and not data.get("last_prior_injection_on") and self.is_new("prior_injections_12_months"):
            self.add_error("last_prior_injection_on", "Give the date of the last earlier steroid injection.")
        if prior == 0 and data.get("last_prior_injection_on"):
            self.add_error("last_prior_injection_on", "No earlier injection in 12 months was recorded: leave blank.")
        return data


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
    cell_product = _choice(
        "Contains cells or vesicles",
        YES_NO,
        required=False,
        help_text="A cell or vesicle product can only be given under a registered study",
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
    return label[0].lower() + label[1:] if not label[:2].isupper() else label  # acronyms (TNC, PRP) keep capitals


_apply_ranges()


def allow_stored_values(form: forms.Form, stored: dict | None) -> None:
    """On a bound protocol form correcting a stored record: a value kept as stored is not refused by a limit
    added since it was recorded (registry.plausibility.warnings asks the person to confirm it instead)."""
    form.stored = stored
    for name, field in form.fields.items():
        if stored and name in stored and plausibility.same(stored[name], form[name].data):
            field.validators = [v for v in field.validators if not isinstance(v, HardLimit)]


# Products that may only be given under a registered study (no approved product exists). Adipose cells and
# "other" products depend on their preparation: see governance_required().
GOVERNANCE_REQUIRED = {Product.EXOSOME}


def governance_required(product: str, protocol: dict | None) -> bool:
    """Whether a registered study is needed: exosomes always; culture-expanded adipose cells and enzymatically
    prepared SVF (more than minimally manipulated: a medicinal product, e.g. FDA 21 CFR 1271.10, EU ATMP rules),
    not mechanically processed micro-fragmented fat; an "other" product that contains cells or vesicles."""
    protocol = protocol or {}
    if product in GOVERNANCE_REQUIRED:
        return True
    if product == Product.ADSC:
        return protocol.get("preparation") == "culture_expanded" or (
            protocol.get("preparation") == "svf" and protocol.get("processing") == "enzymatic"
        )
    return product == Product.OTHER and protocol.get("cell_product") == "yes"


# Frameworks under which a product is given only with a regulator's authorisation number.
AUTHORISED_FRAMEWORKS = {"fda_ind": "IND number", "eu_ctr": "EU CT number", "uk_cta": "CTA number"}

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
    authorisation_number = forms.CharField(
        label="IND / CTA / EU CT number",
        required=False,
        max_length=40,
        help_text="Required under an FDA IND, the EU Clinical Trials Regulation or a UK CTA.",
    )
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
        if isinstance(value, date):
            value = value.isoformat()
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


def validate_governance(
    product: str, data, *, protocol: dict | None = None, new_record: bool = True
) -> tuple[dict, dict[str, list[str]]]:
    """``new_record``: the rules added with issue 15 (adipose and "other" cell products need a study; the
    authorisation number under IND/CTA/EU CT) apply to new records, so stored ones stay editable."""
    required = product in GOVERNANCE_REQUIRED or (new_record and governance_required(product, protocol))
    if not data:
        if required:
            missing = ", ".join(f.label.lower() for f in GovernanceForm.base_fields.values() if f.required)
            name = "This product" if product not in GOVERNANCE_REQUIRED else f"{Product(product).label} injections"
            return {}, {
                "__all__": [
                    f"{name} can only be recorded under a registered study. Missing: {missing}."
                    if product in GOVERNANCE_REQUIRED
                    else f"{name} (culture-expanded or enzymatically prepared cells, or another cell or vesicle "
                    f"product) can only be recorded under a registered study. Missing: {missing}."
                ]
            }
        return {}, {}
    cleaned, errors = _run(GovernanceForm, data)
    framework = data.get("regulatory_framework") if isinstance(data, dict) else None
    if new_record and framework in AUTHORISED_FRAMEWORKS and not (data.get("authorisation_number") or "").strip():
        errors.setdefault("authorisation_number", []).append(
            f"Give the {AUTHORISED_FRAMEWORKS[framework]}: this framework needs one."
        )
        cleaned = {}
    return cleaned, errors


def dated_problems(product: str, protocol: dict | None, injected_on: date | None) -> dict[str, list[str]]:
    """Rules between the protocol's dates and the injection date: an expired EV lot is refused; the last earlier
    steroid injection is before this one and within the 12 months counted."""
    protocol = protocol or {}
    if not isinstance(injected_on, date):
        return {}
    problems: dict[str, list[str]] = {}
    expiry = _date(protocol.get("lot_expiry_on")) if product == Product.EXOSOME else None
    if expiry and expiry < injected_on:
        problems["lot_expiry_on"] = [
            f"The lot expired on {expiry:%d %b %Y}, before the injection on {injected_on:%d %b %Y}: an expired lot "
            "cannot be recorded as given."
        ]
    last = _date(protocol.get("last_prior_injection_on")) if product == Product.CORTICOSTEROID else None
    if last and not injected_on - timedelta(days=366) <= last < injected_on:
        problems["last_prior_injection_on"] = [
            "The last earlier steroid injection must be before this injection and within the 12 months before it."
        ]
    return problems


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


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
        ChecklistItem("Molecular weight", protocol_keys=("molecular_weight_kda", "molecular_weight")),
        ChecklistItem("Dose", protocol_keys=("dose_mg",)),
        *_COMMON,
    ),
    Product.EXOSOME: (
        ChecklistItem("Source material", protocol_keys=("source_material",)),
        ChecklistItem("Manufacturer and batch", protocol_keys=("batch_lot",)),
        ChecklistItem("Particle concentration and method", protocol_keys=("particle_concentration",)),
        ChecklistItem("Size distribution", protocol_keys=("size_mode_nm",)),
        ChecklistItem(
            "Positive markers", protocol_keys=("transmembrane_markers", "cytosolic_markers", "positive_markers")
        ),
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

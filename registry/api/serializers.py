"""Input validation and output shape for the registry API. Writes go through registry.services (the views call
them); protocol and governance rules come from registry.protocols, so a rule lives in one place."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django_countries.serializers import CountryFieldMixin
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry import doses, plausibility, selection, services
from registry.api.mixins import MAX_ID, RejectUnknownFieldsMixin, RequiredEvenWhenPartialMixin
from registry.choices import WRITING_ROLES, Pathology, PreviousTreatment, WithdrawalDecision
from registry.models import Clinic, Injection, InjectionComponent, Membership, Patient, TreatmentPlan
from registry.models.component import MAX_COMPONENTS
from registry.protocols import PROTOCOL_FORMS, GovernanceForm, validate_governance, validate_protocol
from registry.scoping import clinics_for, patients_for, plans_for

User = get_user_model()


def _request_user(field: serializers.Field):
    return field.context["request"].user


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """An id looked up only among rows the requesting user may use: anything else reads as "does not exist"."""

    def __init__(self, **kwargs):
        super().__init__(queryset=self.model.objects.none(), **kwargs)

    def to_internal_value(self, data):
        # Whole numbers only: DRF would look up 1.5 as 1, and crash on 1e999 or 10**30 (an OverflowError on SQLite).
        if isinstance(data, str) and data.isdecimal() and len(data) <= len(str(MAX_ID)):
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)

    def get_queryset(self):
        return self.scoped(_request_user(self))


class WritableClinicField(ScopedPrimaryKeyField):
    model = Clinic

    def scoped(self, user):
        return clinics_for(user, write=True)


class WritablePatientField(ScopedPrimaryKeyField):
    model = Patient

    def scoped(self, user):
        return patients_for(user, write=True)


class WritablePlanField(ScopedPrimaryKeyField):
    model = TreatmentPlan

    def scoped(self, user):
        return plans_for(user, write=True)


class VisibleStaffField(ScopedPrimaryKeyField):
    """Staff of the clinics the user can see; whether they work in the patient's clinic is checked later."""

    model = User

    def scoped(self, user):
        return User.objects.filter(memberships__clinic__in=clinics_for(user).values("id")).distinct()


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True},
)
class RecordValueField(serializers.Field):
    """One value of a protocol or governance record: text, a number or a flag; never a nested structure."""

    default_error_messages = {"invalid": "Must be a single value (text or number), not a list or object."}

    def to_internal_value(self, data):
        if isinstance(data, list | dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


def _record_field(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=RecordValueField(allow_null=True), required=False, help_text=help_text)


def _nested(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    return {("non_field_errors" if key == "__all__" else key): messages for key, messages in problems.items()}


_PROTOCOL_HELP = (
    "Product-specific record; its keys depend on `product`: "
    + "; ".join(f"{product}: {', '.join(form.base_fields)}" for product, form in PROTOCOL_FORMS.items())
    + ". Numeric keys have a unit and plausible ranges: a value outside the possible range is refused (400); one "
    "outside the usual range is refused until confirmed in `acknowledged_warnings` (a 400 names what to confirm). "
    + "; ".join(
        f"{r.product}.{r.field} ({r.unit}): usual {plausibility.number(r.soft[0])}-{plausibility.number(r.soft[1])}, "
        f"possible {plausibility.number(r.hard[0])}-{plausibility.number(r.hard[1])}"
        for r in plausibility.RANGES
    )
    + ". A part is never more than its whole (400 under the part's key; `volume_ml` is the volume injected): "
    + "; ".join(
        f"{r.product}: {r.part} <= {r.whole}{f' x {plausibility.number(r.scale)}' if r.scale != 1 else ''}"
        for r in plausibility.AT_MOST
    )
    + "."
)
_ACKNOWLEDGED_HELP = (
    'Codes of the unusual values you have checked and confirm, e.g. ["protocol.tnc_per_ml", '
    '"selection.effusion_aspirated_ml"]. Without them a write with an unusual value answers 400: the message is '
    "under the protocol key (or the selection field's own key), and `acknowledged_warnings` lists the codes to "
    "send back with the same values."
)
_GOVERNANCE_HELP = (
    "Study governance; required for exosome injections. Keys: " + ", ".join(GovernanceForm.base_fields) + "."
)


class ClinicSerializer(CountryFieldMixin, RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A clinic: where patients are enrolled and treated, the time zone its follow-ups run in, and its country."""

    class Meta:
        model = Clinic
        fields = [
            "id",
            "name",
            "time_zone",
            "link_requires_year_of_birth",
            "contact_email",
            "phone",
            "country",
            "default_language",
            "show_own_scores",
            "default_channels",
            "daily_email_cap",
            "daily_text_cap",
        ]
        extra_kwargs = {"time_zone": {"help_text": "IANA time zone, e.g. Europe/London."}}


_PATIENT_FIELDS = [
    "id",
    "registry_number",
    "clinic",
    *services.PATIENT_FIELDS,
    "consent_withdrawn_at",
    "withdrawal_decision",
    "email_opted_out_at",
    "sms_opted_out_at",
    "phone_invalid_at",
    "phone_invalid_reason",
    "email_invalid_at",
    "email_invalid_reason",
    "created_at",
]
_PATIENT_READ_ONLY = [
    "registry_number",
    "consent_withdrawn_at",
    "withdrawal_decision",
    "email_opted_out_at",
    "sms_opted_out_at",
    "phone_invalid_at",
    "phone_invalid_reason",
    "email_invalid_at",
    "email_invalid_reason",
    "created_at",
]


class PatientSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A registry patient: consent, contact details (kept in the clinic) and the registry number used elsewhere."""

    clinic = WritableClinicField(help_text="A clinic the user may record patients in.")
    # Empty until consent is withdrawn: documented as nullable so the body matches the schema.
    withdrawal_decision = serializers.SerializerMethodField(
        help_text="What happens to stored data; null until withdrawn."
    )

    class Meta:
        model = Patient
        fields = _PATIENT_FIELDS
        read_only_fields = _PATIENT_READ_ONLY
        validators: list = []  # the service's full_clean() is the one check of model-level rules

    @extend_schema_field(serializers.ChoiceField(choices=WithdrawalDecision.choices, allow_null=True))
    def get_withdrawal_decision(self, patient) -> str | None:
        return patient.withdrawal_decision or None


class PatientUpdateSerializer(PatientSerializer):
    """A correction to a patient's details; the clinic and the consent-withdrawal fields are not changed here."""

    clinic = serializers.PrimaryKeyRelatedField(read_only=True)


class WithdrawConsentSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Withdrawal of registry consent, with what happens to the data already held."""

    decision = serializers.ChoiceField(
        choices=WithdrawalDecision.choices, help_text="What happens to data already stored, as agreed."
    )
    # The audit row holds "Consent withdrawn: <reason>" in 100 characters.
    reason = serializers.CharField(max_length=80, help_text="Why consent was withdrawn (or that no reason was given).")


class ProtocolCompletenessSerializer(serializers.Serializer):
    """How much of the product's reporting checklist the record states."""

    percent = serializers.IntegerField(min_value=0, max_value=100)
    missing = serializers.ListField(child=serializers.CharField())


_DECIMAL = {"coerce_to_string": False}
_CONFIRM = " Outside the usual range a write answers 400 until the field's code (`selection.<field>`) is in "
_SELECTION_KWARGS = {
    "bmi_status": {
        "help_text": "`measured` (give `bmi`) or `not_measured` (no `bmi`; `bmi_not_measured_reason` optional). "
        "`not_recorded` marks injections recorded before BMI was required and cannot be chosen for a new one."
    },
    "bmi": {**_DECIMAL, "help_text": "kg/m²; required when `bmi_status` is `measured`, empty otherwise. "
            + selection.LIMITS["bmi"].describe()},
    "effusion_aspirated_ml": {
        **_DECIMAL,
        "help_text": "mL aspirated before injecting; only with `effusion` = `present`. "
        + selection.LIMITS["effusion_aspirated_ml"].describe()
        + _CONFIRM
        + "`acknowledged_warnings`.",
    },
    "kl_radiograph_on": {
        "help_text": "Date of the radiograph graded: not after `injected_on`. More than 12 months before it,"
        + _CONFIRM
        + "`acknowledged_warnings`."
    },
    "symptom_duration_months": {"help_text": "Months since symptoms began; null if not known. "
                                + selection.LIMITS["symptom_duration_months"].describe()},
    "alignment_method": {"help_text": "How `alignment` was measured: required when alignment is given."},
    "immunosuppression_reason": {"help_text": "Required when `immunosuppression` is `yes`, empty otherwise."},
}  # fmt: skip


_COMPONENTS_HELP = (
    "What was injected: one or more products (e.g. BMAC with PRP), each with its protocol (keys as for "
    "`protocol`), volume, route and site. Component 1 is the principal product: the injection's `product`, "
    "`protocol` and `volume_ml` are component 1's (send them inside the components, or leave `components` out and "
    "send them as before: they become one intra-articular component). HA, corticosteroid and saline are refused "
    "intraosseous routes. Unusual values in component n (n > 1) are confirmed as "
    "`components.<n>.protocol.<field>` in `acknowledged_warnings`; errors in them are listed under `components`. "
    "On a correction, `components` is the whole list as it should be (component 1's product is fixed)."
)


class InjectionComponentSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """One product of an injection, with its route, site, volume and protocol."""

    protocol = _record_field("The product's protocol record (keys as for the injection's `protocol`).")

    class Meta:
        model = InjectionComponent
        fields = ["position", "product", "route", "site", "volume_ml", "protocol"]
        read_only_fields = ["position"]
        extra_kwargs = {"volume_ml": _DECIMAL, "route": {"required": False}}


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class DerivedValueField(serializers.Field):
    def to_representation(self, value):
        return float(value) if isinstance(value, Decimal) else value


class DerivedSerializer(serializers.Serializer):
    """A value computed from the protocol and the volume injected (registry.doses), never entered."""

    label = serializers.CharField()
    value = DerivedValueField(help_text="A number in `unit`, or a classification code (DEPA, PAW, PLRA).")
    unit = serializers.CharField()
    formula = serializers.CharField(help_text="How it is computed.")
    warning = serializers.CharField(help_text="Empty, or why the value needs checking.")


class InjectionSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """One injection into one knee (given or planned), with its product protocol and the patient-selection
    snapshot on the day. Protocol errors are reported per protocol key."""

    patient = WritablePatientField()
    clinician = VisibleStaffField(
        required=False, help_text="Treating clinician (a user id); defaults to the requesting user."
    )
    planned_injections = serializers.IntegerField(
        source="plan.planned_injections",
        min_value=1,
        max_value=10,
        default=1,
        help_text="Injections in the plan; more than one makes a staged plan. Set with the first injection.",
    )
    repeat_of = WritablePlanField(
        source="plan.repeat_of",
        required=False,
        allow_null=True,
        help_text="The earlier course (a plan id) in the same knee that did not help, when this injection opens "
        "its fallback course; only with the first injection of a course.",
    )
    previous_treatments = serializers.ListField(
        child=serializers.ChoiceField(choices=PreviousTreatment.choices), required=False
    )
    pathology = serializers.ListField(child=serializers.ChoiceField(choices=Pathology.choices), required=False)
    # Selection and risk factors (registry.selection): their rules are the model's, reported per field.
    kl_compartments = serializers.ListField(
        child=serializers.ChoiceField(choices=selection.Compartment.choices),
        required=False,
        max_length=len(selection.Compartment.values),
        help_text="Compartments the KL grade describes, each once.",
    )
    protocol = _record_field(_PROTOCOL_HELP)
    governance = _record_field(_GOVERNANCE_HELP)
    protocol_completeness = serializers.SerializerMethodField()
    components = InjectionComponentSerializer(
        many=True, required=False, min_length=1, max_length=MAX_COMPONENTS, help_text=_COMPONENTS_HELP
    )
    total_volume_ml = serializers.DecimalField(
        max_digits=6,
        decimal_places=1,
        read_only=True,
        coerce_to_string=False,
        help_text="All components together (mL).",
    )
    derived = serializers.SerializerMethodField(
        help_text="Values computed from the protocol and the volume injected (doses, concentration factors, DEPA, "
        "PAW, PLRA), by code; read-only."
    )
    acknowledged_warnings = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        write_only=True,
        max_length=50,
        help_text=_ACKNOWLEDGED_HELP,
    )

    class Meta:
        model = Injection
        fields = [
            "id",
            "patient",
            *services.INJECTION_FIELDS,
            "plan",
            "planned_injections",
            "number_in_plan",
            "repeat_of",
            "age_at_injection",
            "protocol_completeness",
            "components",
            "total_volume_ml",
            "derived",
            "created_at",
            "acknowledged_warnings",
        ]
        read_only_fields = ["plan", "age_at_injection", "created_at"]
        extra_kwargs = {
            "product": {
                "required": False,
                "help_text": "The principal product (component 1's); required unless `components` is sent.",
            },
            "volume_ml": {
                **_DECIMAL,
                "required": False,
                "help_text": "Volume of the principal product (component "
                "1's); required unless `components` is sent. `total_volume_ml` adds all components.",
            },
            "alignment_degrees": {
                **_DECIMAL,
                "help_text": "Degrees of deformity: required when `alignment` is varus or valgus, none when neutral.",
            },
            "number_in_plan": {"max_value": 10, "help_text": "Which injection of the plan this is (1 = first)."},
            **_SELECTION_KWARGS,
        }
        validators: list = []  # plan/stage uniqueness is the service's to check

    @extend_schema_field(ProtocolCompletenessSerializer)
    def get_protocol_completeness(self, obj: Injection) -> dict:
        completeness = obj.protocol_completeness()
        return {"percent": completeness.percent, "missing": list(completeness.missing)}

    @extend_schema_field(serializers.DictField(child=DerivedSerializer()))
    def get_derived(self, obj: Injection) -> dict:
        return {
            d.code: DerivedSerializer(d).data for d in doses.derived_values(obj.product, obj.protocol, obj.volume_ml)
        }

    def validate(self, attrs):
        errors: dict = {}
        instance: Injection | None = self.instance
        components = attrs.get("components")
        # Component 1 is the principal product; the service checks each component (and that the two agree).
        principal = components[0]["product"] if components else None
        product = instance.product if instance else attrs.get("product", principal)
        if product is None:
            raise serializers.ValidationError({"product": ["Required, unless `components` is sent."]})
        # A changed product is refused by the service; checking the record against either product would mislead.
        if attrs.get("product", product) == product:
            stored = instance.protocol if instance else None
            if "protocol" in attrs or (instance is None and not components):
                cleaned, problems = validate_protocol(product, attrs.get("protocol") or {}, stored=stored)
                if problems:
                    errors["protocol"] = _nested(problems)
                else:
                    attrs["protocol"] = cleaned
                    self._unconfirmed(product, cleaned, stored, attrs.get("acknowledged_warnings") or [], errors)
            if instance is None or "governance" in attrs:
                protocol = attrs.get("protocol", instance.protocol if instance else None)
                cleaned, problems = validate_governance(
                    product, attrs.get("governance") or {}, protocol=protocol, new_record=instance is None
                )
                if problems:
                    errors["governance"] = _nested(problems)
                else:
                    attrs["governance"] = cleaned
        patient = instance.patient if instance else attrs["patient"]
        if instance is None or "clinician" in attrs:
            clinician = attrs.get("clinician") or _request_user(self)
            # A treating clinician works in the clinic; an administrator's access does not make them one.
            if not Membership.objects.filter(
                user=clinician, clinic_id=patient.clinic_id, role__in=WRITING_ROLES
            ).exists():
                errors["clinician"] = ["Must be a clinician or lead of the patient's clinic."]
            attrs["clinician"] = clinician
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @staticmethod
    def _unconfirmed(product: str, protocol: dict, stored: dict | None, acknowledged: list[str], errors: dict) -> None:
        """Unusual values not in ``acknowledged``: their messages by protocol key, their codes to send back."""
        found = [w for w in plausibility.warnings(product, protocol, stored=stored) if w.code not in acknowledged]
        if found:
            errors["protocol"] = {w.field: [w.message] for w in found}
            errors["acknowledged_warnings"] = [w.code for w in found]


class InjectionUpdateSerializer(RequiredEvenWhenPartialMixin, InjectionSerializer):
    """A correction to a recorded injection: every change is audited with its reason."""

    required_even_when_partial = ("reason",)
    patient = serializers.PrimaryKeyRelatedField(read_only=True)
    planned_injections = serializers.IntegerField(source="plan.planned_injections", read_only=True)
    repeat_of = serializers.PrimaryKeyRelatedField(source="plan.repeat_of", read_only=True)
    # django-simple-history keeps the reason in 100 characters.
    reason = serializers.CharField(write_only=True, max_length=100, help_text="Why the record is being changed.")

    class Meta(InjectionSerializer.Meta):
        fields = [*InjectionSerializer.Meta.fields, "reason"]
        read_only_fields = [*InjectionSerializer.Meta.read_only_fields, "number_in_plan"]

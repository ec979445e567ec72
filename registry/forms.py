"""Forms for the clinician pages. They check what a person typed; the services (registry.services) still decide
what may be saved, and the views put any error a service raises back next to the field it is about.

Field definitions come from the models (labels, help text, validators), so a rule is not written twice.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from registry import selection, services
from registry.choices import WRITING_ROLES, Pathology, PreviousTreatment, Route, WithdrawalDecision
from registry.models import Clinic, Injection, InjectionComponent, Patient, TreatmentPlan
from registry.models.component import MAX_COMPONENTS
from registry.protocols import PROTOCOL_FORMS, GovernanceForm

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _from_model(model, fields: list[str], **kwargs) -> type[forms.Form]:
    """A plain Form holding the model's own field definitions. Plain, not a ModelForm: the service builds and
    validates the instance (it needs the plan, protocol and audit reason a ModelForm knows nothing about)."""
    form_fields = forms.fields_for_model(model, fields=fields, **kwargs)
    for name, form_field in form_fields.items():
        # Model validators (year of birth, BMI range...) run with the form too, so every problem shows at once.
        extra = [v for v in model._meta.get_field(name).validators if v not in form_field.validators]
        form_field.validators = [*form_field.validators, *extra]
    return type(f"{model.__name__}Fields", (forms.Form,), form_fields)


def submitted(form: forms.Form) -> dict:
    """What was typed into a form, empty inputs left out: protocol and governance records are stored as typed,
    and the service normalises them with the same product form."""
    return {name: value for name in form.fields if (value := form[name].data) not in (None, "")}


def unbound_copy(form_class: type[forms.Form], data, *, prefix: str) -> forms.Form:
    """An unvalidated form showing what was typed: for the fieldsets of products not chosen, whose errors would
    only distract, but whose values must survive a re-render."""
    typed = form_class(data, prefix=prefix)
    return form_class(prefix=prefix, initial={name: typed[name].data for name in typed.fields})


PATIENT_FIELDS = list(services.PATIENT_FIELDS)


class PatientForm(
    _from_model(
        Patient,
        PATIENT_FIELDS,
        widgets={
            "consent_on": DATE,
            "year_of_birth": forms.NumberInput(attrs={"inputmode": "numeric"}),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        },
    )
):
    pass


class EnrolForm(PatientForm):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)

    field_order = ["clinic", *PATIENT_FIELDS]

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if len(clinics) == 1:
            self.fields["clinic"].initial = clinics[0]
        else:
            self.fields["clinic"].empty_label = "—"
        if clinics:
            # The contact consents start as the clinic usually contacts patients (Clinic.default_channels).
            for name, ticked in clinics[0].default_consents.items():
                self.fields[name].initial = ticked

    def patient_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in PATIENT_FIELDS}


class PatientEditForm(PatientForm):
    reason = forms.CharField(
        label="Reason for the change", max_length=500, help_text="Kept in the audit history, e.g. “moved house”."
    )

    def patient_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in PATIENT_FIELDS}


class WithdrawConsentForm(forms.Form):
    decision = forms.ChoiceField(
        label="What happens to the data already collected",
        choices=WithdrawalDecision.choices,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="In the patient's words if they gave one, or “No reason given”.",
    )


# --- Selection and risk factors (registry.selection): widgets and choices, reusable by any form holding them ---
SELECTION_WIDGETS = {
    "kl_radiograph_on": DATE,
    "bmi_status": forms.RadioSelect,
    "symptom_duration_months": forms.NumberInput(attrs={"inputmode": "numeric"}),
    "effusion_aspirated_ml": forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    "bmi": forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
}
_SELECTION_UNITS = {"bmi": "kg/m²", "symptom_duration_months": "months", "effusion_aspirated_ml": "mL"}


def compartments_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label="Compartments with OA",
        choices=selection.Compartment.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Every compartment the grade describes.",
    )


def selection_fields_prepare(form: forms.Form) -> None:
    """Units beside the numbers; a blank choice reads "Not recorded"; "Not recorded (before BMI was required)" is
    offered only to a record that already has it."""
    for name, unit in _SELECTION_UNITS.items():
        if name in form.fields:
            form.fields[name].unit = unit
    for name in selection.CHOICES:
        field = form.fields.get(name)
        if field is not None and name != "bmi_status":
            field.choices = [("", "Not recorded"), *[c for c in field.choices if c[0] != ""]]
    if "bmi_status" in form.fields:
        kept = selection.BmiStatus.NOT_RECORDED in (form.initial.get("bmi_status"), form["bmi_status"].data)
        # Unanswered, BMI counts as measured: then the BMI itself is asked for, so it is never silently blank.
        form.fields["bmi_status"].required = False
        form.fields["bmi_status"].empty_value = selection.BmiStatus.MEASURED
        form.fields["bmi_status"].choices = [
            (value, label)
            for value, label in selection.BmiStatus.choices
            if value != selection.BmiStatus.NOT_RECORDED or kept
        ]


# The service's injection fields less those this form builds itself: the two choice lists (multiple-choice
# fields below) and the protocol and governance records (their own fieldsets, registry.protocols).
_BUILT_HERE = ("previous_treatments", "pathology", "kl_compartments", "protocol", "governance")
INJECTION_FIELDS = [name for name in services.INJECTION_FIELDS if name not in _BUILT_HERE]


class InjectionForm(
    _from_model(
        Injection,
        INJECTION_FIELDS,
        widgets={
            "knee": forms.RadioSelect,
            "status": forms.RadioSelect,
            "injected_on": DATE,
            "rehabilitation_notes": forms.Textarea(attrs={"rows": 2}),
            "pathology_notes": forms.Textarea(attrs={"rows": 2}),
            **SELECTION_WIDGETS,
        },
    )
):
    previous_treatments = forms.MultipleChoiceField(
        label="Previous treatments for this knee",
        choices=PreviousTreatment.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    pathology = forms.MultipleChoiceField(
        label="Co-existing pathology",
        choices=Pathology.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    kl_compartments = compartments_field()
    planned_injections = forms.IntegerField(
        label="Injections planned in this course",
        min_value=1,
        max_value=10,
        initial=1,
        help_text="1 for a single injection; more for a staged plan.",
    )
    number_in_plan = forms.IntegerField(
        label="This is injection number", min_value=1, max_value=10, initial=1, help_text="1 opens a new plan."
    )
    repeat_of = forms.ModelChoiceField(
        label="Repeat of an earlier course",
        queryset=TreatmentPlan.objects.none(),
        required=False,
        empty_label="No (not a fallback)",
        help_text="When this new course is given because an earlier one in this knee did not help.",
    )
    # --- Components (issue 15): the principal product's route and site; the others are ComponentForms. ---
    route = forms.ChoiceField(
        label="Route of the principal product",
        choices=Route.choices,
        initial=Route.INTRA_ARTICULAR,
        required=False,  # left out (older pages, scripts): intra-articular, the route every injection had before
    )
    site = forms.CharField(
        label="Site or approach",
        max_length=100,
        required=False,
        help_text=InjectionComponent._meta.get_field("site").help_text,
    )

    # Fields the service takes as the injection's data (protocol and governance come from their own forms).
    service_fields = [name for name in services.INJECTION_FIELDS if name not in ("protocol", "governance")]

    def __init__(self, *args, clinic: Clinic, user, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        offer_clinicians(self, clinic=clinic, user=user)
        if "repeat_of" in self.fields:
            # The patient's own courses; the service checks the knee (TreatmentPlan.repeat_problem).
            courses = TreatmentPlan.objects.filter(patient=patient) if patient else TreatmentPlan.objects.none()
            self.fields["repeat_of"].queryset = courses.order_by("-created_at")
            self.fields["repeat_of"].label_from_instance = course_label
        for name in ("knee", "status"):  # radio buttons need no "---------" option
            self.fields[name].choices = [c for c in self.fields[name].choices if c[0] != ""]
        self.fields["product"].choices = [("", "Choose the product"), *self.fields["product"].choices[1:]]
        self.fields["kl_grade"].widget.attrs.update(min=0, max=4)
        selection_fields_prepare(self)

    def clean(self):
        data = super().clean()
        planned, number = data.get("planned_injections"), data.get("number_in_plan")
        if planned and number and number > planned:
            self.add_error("number_in_plan", f"Cannot be more than the {planned} injections planned.")
        return data

    def injection_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.service_fields if name in self.cleaned_data}


def course_label(plan: TreatmentPlan) -> str:
    return f"{plan} from {plan.created_at:%d %b %Y}"


def offer_clinicians(form: forms.BaseForm, *, clinic: Clinic, user) -> None:
    """The form's ``clinician`` field offers the clinic's clinicians and leads (active), named as people, and
    starts at the user when they are one of them."""
    clinicians = (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, memberships__role__in=WRITING_ROLES, is_active=True)
        .order_by("first_name", "last_name", "username")
    )
    form.fields["clinician"].queryset = clinicians
    form.fields["clinician"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
    if not form.initial.get("clinician") and clinicians.filter(pk=user.pk).exists():
        form.initial["clinician"] = user.pk


class InjectionEditForm(InjectionForm):
    """Correcting a recorded injection: what was injected where, and its place in the plan, stay fixed."""

    reason = forms.CharField(
        label="Reason for the change",
        max_length=500,
        help_text="Kept in the audit history, e.g. “cell count report arrived”.",
    )

    fixed = ("knee", "product", "planned_injections", "number_in_plan", "repeat_of")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.fixed:
            del self.fields[name]

    @property
    def service_fields(self):
        return [name for name in InjectionForm.service_fields if name not in self.fixed]


class ComponentForm(_from_model(InjectionComponent, ["product", "route", "site", "volume_ml"])):
    """A further product of the same injection (component 2, 3...); its protocol has its own fieldsets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "Choose the product"), *self.fields["product"].choices[1:]]
        self.fields["route"].choices = Route.choices

    def is_blank(self) -> bool:
        """Nothing typed: an "add another product" row left empty records nothing (and is not an error)."""
        return not any(self[name].data not in (None, "") for name in ("product", "site", "volume_ml"))


def component_forms(position: int, data=None, initial: dict | None = None, *, bind: bool = True) -> dict:
    """Component ``position``'s form and one protocol form per product (prefix ``component-2-bmac``), bound as
    ``protocol_forms`` binds them: only the chosen product's protocol is validated; ``bind=False`` keeps what
    was typed without judging it (re-rendering with one more component)."""
    prefix = f"component-{position}"
    if data is None:
        form = ComponentForm(prefix=prefix, initial=initial)
        chosen = (initial or {}).get("product")
    elif bind:
        form = ComponentForm(data, prefix=prefix)
        chosen = form["product"].data
    else:
        form = unbound_copy(ComponentForm, data, prefix=prefix)
        chosen = None
    protocols = {}
    for code, form_class in PROTOCOL_FORMS.items():
        code_prefix = f"{prefix}-{code}"
        if data is None:
            stored = (initial or {}).get("protocol") if code == chosen else None
            protocols[code] = form_class(prefix=code_prefix, initial=stored)
        elif code == chosen and bind:
            protocols[code] = form_class(data, prefix=code_prefix)
        else:
            protocols[code] = unbound_copy(form_class, data, prefix=code_prefix)
    return {"position": position, "form": form, "protocols": protocols, "chosen": chosen}


def extra_components_count(data, *, at_least: int = 0) -> int:
    """How many further products the page shows (the hidden ``extra_components``), one more after "add another
    product", within the limit."""
    try:
        count = int(data.get("extra_components", at_least))
    except (TypeError, ValueError):
        count = at_least
    if "add_component" in data:
        count += 1
    return max(at_least, min(count, MAX_COMPONENTS - 1))


def protocol_forms(product: str | None, data=None, initial: dict | None = None) -> dict[str, forms.Form]:
    """One form per product, prefixed by the product (``bmac-harvest_site``). Only the chosen product's form is
    bound to the submission (and so validated); the others keep what was typed without complaining."""
    out = {}
    for code, form_class in PROTOCOL_FORMS.items():
        if code == product and data is not None:
            out[code] = form_class(data, prefix=code)
        elif data is not None:
            out[code] = unbound_copy(form_class, data, prefix=code)
        else:
            out[code] = form_class(prefix=code, initial=initial if code == product else None)
    return out


def governance_form(data=None, initial: dict | None = None) -> forms.Form:
    # empty_permitted: left blank, the fieldset is valid and records nothing; whether the product allows that is
    # checked separately. Partly filled in, every field is validated.
    return GovernanceForm(
        data, prefix="governance", initial=initial, empty_permitted=True, use_required_attribute=False
    )


def service_errors_onto(error: ValidationError, *, form: forms.Form, others: dict[str, forms.Form]) -> None:
    """Put a service's ValidationError next to the fields it names. ``others`` maps a service field
    (``protocol``, ``governance``) to the form whose top it belongs at; anything else goes to the page's top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        if field in others:
            others[field].add_error(None, messages)
        elif field in form.fields:
            form.add_error(field, messages)
        else:
            label = field.replace("_", " ").capitalize()
            form.add_error(None, [m if field == "__all__" else f"{label}: {m}" for m in messages])

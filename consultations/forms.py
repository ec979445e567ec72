"""The consultation form. It checks what was typed; consultations.services decides what may be saved, and the view
puts any error the service raises next to the field it names. Field definitions come from the model."""

from django import forms

from consultations import review_services, services
from consultations.choices import MULTIPLE_CHOICES, FallbackOffer
from consultations.models import REASONING_MAX, Consultation, DecisionAidText, FallbackReview
from registry.choices import Pathology
from registry.forms import DATE, SELECTION_WIDGETS, compartments_field, offer_clinicians, selection_fields_prepare
from registry.models import Clinic

# The lists are multiple-choice fields built here; everything else is the model's own field.
_LISTS = ("kl_compartments", "pathology", *MULTIPLE_CHOICES)
FORM_FIELDS = [name for name in services.CONSULTATION_FIELDS if name not in _LISTS]

_WIDGETS = {
    "knee": forms.RadioSelect,
    "decision": forms.RadioSelect,
    "consulted_on": DATE,
    "reasoning": forms.Textarea(attrs={"rows": 4, "maxlength": 1000}),
    "pathology_notes": forms.Textarea(attrs={"rows": 2}),
    "review_after_months": forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": 24}),
    **SELECTION_WIDGETS,
}


def _model_fields() -> dict:
    fields = forms.fields_for_model(Consultation, fields=FORM_FIELDS, widgets=_WIDGETS)
    for name, form_field in fields.items():
        # The model's validators (review months 1-24, BMI range, reasoning length) run with the form too.
        extra = [v for v in Consultation._meta.get_field(name).validators if v not in form_field.validators]
        form_field.validators = [*form_field.validators, *extra]
    return fields


def _choices(name: str, label: str, help_text: str = "") -> forms.MultipleChoiceField:
    vocabulary = Pathology if name == "pathology" else MULTIPLE_CHOICES[name][0]
    return forms.MultipleChoiceField(
        label=label,
        choices=vocabulary.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=help_text,
    )


class ConsultationForm(type("ConsultationFields", (forms.Form,), _model_fields())):
    kl_compartments = compartments_field()
    pathology = _choices("pathology", "Co-existing pathology")
    previous_treatments = _choices("previous_treatments", "Previous treatments for this knee", "“None” stands alone.")
    indications = _choices("indications", "Indications found")
    reasons_against = _choices("reasons_against", "Reasons against an injection", "At least one when advising against.")
    alternatives_discussed = _choices(
        "alternatives_discussed", "Alternatives discussed", "Including care without an injection."
    )
    fallback_offer = _choices(
        "fallback_offer", "Offered if the knee has not improved", "When proceeding; “Nothing further” stands alone."
    )

    def __init__(self, *args, clinic: Clinic, user, **kwargs):
        super().__init__(*args, **kwargs)
        offer_clinicians(self, clinic=clinic, user=user)
        for name in ("knee", "decision"):  # radio buttons need no "---------" option
            self.fields[name].choices = [c for c in self.fields[name].choices if c[0] != ""]
        self.fields["proposed_product"].choices = [
            ("", "None (not proceeding)"),
            *self.fields["proposed_product"].choices[1:],
        ]
        self.fields["not_improved_rule"].choices = [c for c in self.fields["not_improved_rule"].choices if c[0] != ""]
        self.fields["kl_grade"].widget.attrs.update(min=0, max=4)
        selection_fields_prepare(self)

    def consultation_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in services.CONSULTATION_FIELDS if name in self.cleaned_data}


class ConsultationEditForm(ConsultationForm):
    reason = forms.CharField(
        label="Reason for the change", max_length=100, help_text="Kept in the audit history, e.g. “KL grade re-read”."
    )


class DecisionAidTextForm(forms.ModelForm):
    """The clinic's own words on every patient's copy (consultations.services.decision_aid_text_save saves it)."""

    class Meta:
        model = DecisionAidText
        fields = list(services.DECISION_AID_FIELDS)
        widgets = {
            "without_injection": forms.Textarea(attrs={"rows": 6, "maxlength": 2000}),
            "references": forms.Textarea(attrs={"rows": 8, "maxlength": 4000}),
        }


class FallbackReviewForm(
    type(
        "FallbackReviewFields",
        (forms.Form,),
        forms.fields_for_model(
            FallbackReview,
            fields=["reviewed_on", "clinician", "offered_product", "path_taken", "notes"],
            widgets={
                "reviewed_on": DATE,
                "path_taken": forms.RadioSelect,
                "notes": forms.Textarea(attrs={"rows": 3, "maxlength": REASONING_MAX}),
            },
        ),
    )
):
    """The review of a course: what was offered and what the patient took. The finding is not typed: the
    service takes it from the review list's rule (consultations.reviews)."""

    offered = forms.MultipleChoiceField(
        label="Offered",
        choices=FallbackOffer.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="One or more; “Nothing further” stands alone.",
    )
    field_order = ["reviewed_on", "clinician", "offered", "offered_product", "path_taken", "notes"]

    def __init__(self, *args, clinic: Clinic, user, **kwargs):
        super().__init__(*args, **kwargs)
        offer_clinicians(self, clinic=clinic, user=user)
        self.fields["path_taken"].choices = [c for c in self.fields["path_taken"].choices if c[0] != ""]
        self.fields["offered_product"].choices = [
            ("", "None (no injection offered)"),
            *self.fields["offered_product"].choices[1:],
        ]

    def review_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in review_services.REVIEW_FIELDS if name in self.cleaned_data}


class FallbackReviewEditForm(FallbackReviewForm):
    reason = forms.CharField(
        label="Reason for the change",
        max_length=100,
        help_text="Kept in the audit history, e.g. “patient changed mind”.",
    )

"""Forms for recording and correcting adverse events, and for choosing an export. Validation of the event itself
lives on the model (AdverseEvent.clean) and in safety.services, so web, API and admin agree."""

from django import forms

from registry import downloads
from registry.choices import Product
from safety.choices import (
    RELATEDNESS_HELP,
    SERIOUSNESS_CRITERIA,
    ActionTaken,
    Causality,
    Dechallenge,
    EventSource,
    EventStatus,
    Expectedness,
    ExportFormat,
    Outcome,
    Rechallenge,
    Relatedness,
    ReportKind,
    ReportRoute,
    Severity,
    YesNoUnknown,
    allowed_relatedness,
    grouped_category_choices,
)
from safety.services import REPORT_FIELDS, STAGED_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"


def _select(choices, *, label=None, required=True, blank="—"):
    return forms.ChoiceField(label=label, choices=[("", blank), *choices], required=required)


class AdverseEventForm(forms.Form):
    injections = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Injection(s) the event followed",
        help_text="Tick every injection it may relate to.",
    )
    source = _select(EventSource.choices, label="Source")
    onset_on = forms.DateField(label="Onset date", widget=DateInput)
    category = forms.ChoiceField(label="Category", choices=[("", "—"), *grouped_category_choices()])
    description = forms.CharField(
        label="Description",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=10000,
        help_text="What happened, investigations and results. Do not write the patient's name.",
    )
    severity = forms.TypedChoiceField(
        label="Severity (CTCAE grade)", choices=[("", "—"), *Severity.choices], coerce=int
    )
    causality_product = _select(Causality.choices, label="Causality to the product (WHO-UMC)")
    causality_product.help_text = "What was injected (the cells, platelets, hyaluronic acid, steroid...)."
    causality_procedure = _select(Causality.choices, label="Causality to the procedure (WHO-UMC)")
    causality_procedure.help_text = "The needle, the harvest, the anaesthetic or sedation: the procedure itself."
    relatedness = _select(Relatedness.choices, label="Related to")
    relatedness.help_text = RELATEDNESS_HELP
    expectedness = _select(Expectedness.choices, label="Expectedness")
    action_taken = _select(ActionTaken.choices, label="Action taken")
    outcome = _select(Outcome.choices, label="Outcome")
    outcome_on = forms.DateField(label="Outcome date", widget=DateInput, required=False)
    meddra_code = forms.CharField(label="MedDRA LLT code (optional)", max_length=8, required=False)
    meddra_version = forms.CharField(label="MedDRA version", max_length=8, required=False)
    aware_on = forms.DateField(
        label="Date the clinic first knew (optional)",
        widget=DateInput,
        required=False,
        help_text="Day 0 of the expedited-reporting clocks; today when left empty.",
    )
    # Staged plans only (removed in __init__ otherwise): CIOMS I boxes 20-21.
    dechallenge = _select(Dechallenge.choices, label="Next injection withheld or delayed?", required=False)
    dechallenge_abated = _select(YesNoUnknown.choices, label="If withheld: did the event abate?", required=False)
    rechallenge = _select(Rechallenge.choices, label="Later injection given?", required=False)
    rechallenge_recurred = _select(YesNoUnknown.choices, label="If given: did the event recur?", required=False)

    def __init__(self, *args, injections, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["injections"].queryset = injections
        # Only what the patient's injections allow: no harvest to blame without a BMAC or ADSC injection. With one
        # among them, the service still checks the injections actually ticked.
        products = set(injections.values_list("product", flat=True))
        # Dechallenge and rechallenge only where a later injection could be withheld or given.
        self.staged = injections.filter(plan__planned_injections__gt=1).exists()
        if not self.staged:
            for name in STAGED_FIELDS:
                del self.fields[name]
        self.fields["category"].choices = [("", "—"), *grouped_category_choices(products)]
        allowed = allowed_relatedness(products)
        self.fields["relatedness"].choices = [("", "—"), *((v, Relatedness(v).label) for v in allowed)]
        self.fields["injections"].label_from_instance = lambda i: (
            f"{i.get_product_display()} — {i.get_knee_display().lower()} knee, {i.injected_on:%d %b %Y}"
        )
        # The six ICH E2A criteria, after severity.
        for field, label, _ in SERIOUSNESS_CRITERIA:
            self.fields[field] = forms.BooleanField(label=label, required=False)

    @property
    def seriousness_fields(self):
        return [self[field] for field, _, _ in SERIOUSNESS_CRITERIA]

    @property
    def staged_fields(self):
        return [self[name] for name in STAGED_FIELDS if name in self.fields]

    @property
    def main_fields(self):
        skip = {"injections", "reason", "version", *STAGED_FIELDS, *(f for f, _, _ in SERIOUSNESS_CRITERIA)}
        return [self[name] for name in self.fields if name not in skip]

    def event_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("reason", None)
        data.pop("version", None)
        data["injections"] = list(data["injections"])
        return data


class AdverseEventCorrectForm(AdverseEventForm):
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the change and shown to auditors.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RegulatoryReportForm(forms.Form):
    route = _select(ReportRoute.choices, label="Sent to")
    kind = forms.ChoiceField(label="Report", choices=ReportKind.choices, initial=ReportKind.INITIAL)
    submitted_on = forms.DateField(label="Date submitted", widget=DateInput)
    reference = forms.CharField(
        label="Reference", max_length=80, help_text="The reference the recipient gave (e.g. the Yellow Card number)."
    )
    notes = forms.CharField(
        label="Notes (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for 'other': say where the report went. Do not write the patient's name.",
    )

    def report_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in REPORT_FIELDS}


class ExportForm(forms.Form):
    onset_from = forms.DateField(label="Onset from", widget=DateInput, required=False)
    onset_to = forms.DateField(label="Onset to", widget=DateInput, required=False)
    clinic = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my clinics")
    product = _select(Product.choices, label="Product", required=False, blank="All products")
    serious = forms.ChoiceField(
        label="Seriousness",
        required=False,
        choices=[("", "Serious and non-serious"), ("true", "Serious only"), ("false", "Non-serious only")],
    )
    causality = forms.MultipleChoiceField(
        label="Causality (the stronger of product and procedure)",
        choices=Causality.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    format = forms.ChoiceField(choices=ExportFormat.choices, required=False, widget=forms.HiddenInput)
    # People open the CSV in Excel, which needs the byte-order mark; scripts may ask for plain UTF-8.
    encoding = forms.ChoiceField(
        label="CSV encoding", choices=downloads.ENCODING_CHOICES, required=False, initial=downloads.EXCEL
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics

    def clean(self):
        data = super().clean()
        start, end = data.get("onset_from"), data.get("onset_to")
        if start and end and start > end:
            self.add_error("onset_to", "The end of the period is before its start.")
        return data

    def filters(self):
        from safety.selectors import EventFilters

        data = self.cleaned_data
        clinic = data.get("clinic")
        return EventFilters(
            clinic_ids=[clinic.pk] if clinic else [],
            product=data.get("product") or "",
            onset_from=data.get("onset_from"),
            onset_to=data.get("onset_to"),
            serious={"true": True, "false": False}.get(data.get("serious") or ""),
            causality=list(data.get("causality") or []),
        )


class EventListFilterForm(ExportForm):
    encoding = None  # a list page downloads nothing
    status = _select(EventStatus.choices, label="Status", required=False, blank="Open and resolved")
    registry_number = forms.CharField(label="Registry number", required=False, max_length=16)

    def filters(self):
        from dataclasses import replace

        return replace(
            super().filters(),
            status=self.cleaned_data.get("status") or "",
            registry_number=(self.cleaned_data.get("registry_number") or "").strip(),
        )

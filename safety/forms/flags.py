from django import forms


class DismissForm(forms.Form):
    reason = forms.CharField(
        label="Why is this not an adverse event?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept with the flag's history and shown to auditors.",
    )

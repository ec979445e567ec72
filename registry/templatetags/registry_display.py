"""Showing stored protocol records to people: field labels from the product's protocol form, choices by label."""

from decimal import Decimal

from django import forms, template

from registry import doses
from registry.protocols import PROTOCOL_FORMS, GovernanceForm

register = template.Library()

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def display_value(field: forms.Field | None, value) -> str:
    if isinstance(field, forms.ChoiceField):
        return str(dict(field.choices).get(value, value))
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        if value and abs(value) >= 1_000_000:
            # Particle and cell counts read in powers of ten, as on the certificate of analysis.
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"{float(mantissa):g} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
        return f"{value:g}" if isinstance(value, float) else str(value.normalize())
    return str(value)


def record_rows(form_class: type[forms.Form] | None, data: dict | None) -> list[tuple[str, str]]:
    """(label, value) for each recorded item, in the form's order; unknown keys last, by their key."""
    data = data or {}
    fields = form_class.base_fields if form_class else {}
    rows = [
        (str(field.label or name), display_value(field, data[name])) for name, field in fields.items() if name in data
    ]
    rows += [(name.replace("_", " ").capitalize(), str(value)) for name, value in data.items() if name not in fields]
    return rows


@register.simple_tag
def protocol_rows(injection) -> list[tuple[str, str]]:
    return record_rows(PROTOCOL_FORMS.get(injection.product), injection.protocol)


@register.simple_tag
def component_protocol_rows(component) -> list[tuple[str, str]]:
    return record_rows(PROTOCOL_FORMS.get(component.product), component.protocol)


@register.simple_tag
def governance_rows(injection) -> list[tuple[str, str]]:
    return record_rows(GovernanceForm, injection.governance)


@register.simple_tag
def derived_values(product: str, protocol: dict | None, volume_ml) -> list[doses.Derived]:
    """Doses, factors and classifications computed from a protocol (registry.doses): callable per component."""
    return doses.derived_values(product, protocol, volume_ml)


@register.simple_tag
def product_label(product: str, protocol: dict | None) -> str:
    return doses.product_label(product, protocol)

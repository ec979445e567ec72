"""Protocol completeness against the reporting checklist: an explicit negative ("none", "not activated",
"neutral") is an answer, not a gap."""

import pytest
from django import forms

from registry.choices import Product
from registry.models import Injection
from registry.protocols import CHECKLISTS, PROTOCOL_FORMS, completeness
from tests.factories import make_injection


def test_no_structured_rehabilitation_counts_as_recorded(patient, clinician):
    injection = make_injection(patient, clinician, rehabilitation="none")
    result = injection.protocol_completeness()
    assert "Rehabilitation plan" in result.recorded
    assert "Rehabilitation plan" not in result.missing


def _choices(product: str, item) -> list[tuple[str, str, str]]:
    """(where, key, value) for every choice an item's field offers, the empty choice left out."""
    if item.injection_field:
        field = Injection._meta.get_field(item.injection_field)
        return [("injection", item.injection_field, v) for v, _ in field.choices or []]
    out = []
    for key in item.protocol_keys:
        field = PROTOCOL_FORMS[product].base_fields[key]
        if isinstance(field, forms.ChoiceField):
            out += [("protocol", key, v) for v, _ in field.choices if v != ""]
    return out


CHOICE_CASES = [
    pytest.param(product, item.label, where, key, value, id=f"{product}-{key}-{value}")
    for product, items in CHECKLISTS.items()
    for item in items
    for where, key, value in _choices(product, item)
]


@pytest.mark.parametrize(("product", "label", "where", "key", "value"), CHOICE_CASES)
def test_every_choice_of_a_checklist_field_is_an_answer(product, label, where, key, value):
    """Whatever a clinician picks from a checklist item's choices, negatives included, the item is recorded."""
    injection = Injection(product=product, protocol={}, volume_ml=None, kl_grade=None)
    if where == "injection":
        setattr(injection, key, value)
    else:
        injection.protocol = {key: value}
    assert label in completeness(injection).recorded


def test_the_cases_include_the_explicit_negatives():
    negatives = {(c.values[3], c.values[4]) for c in CHOICE_CASES}
    assert ("rehabilitation", "none") in negatives
    assert ("anticoagulant", "none") in negatives
    assert ("activation", "none") in negatives
    assert any(c.values[0] == Product.SALINE for c in CHOICE_CASES)


@pytest.mark.parametrize(
    ("field", "label"), [("activity_level", "Activity level"), ("kl_grade", "Kellgren-Lawrence grade")]
)
def test_a_zero_is_an_answer(field, label):
    injection = Injection(product=Product.HA, protocol={}, **{field: 0})
    assert label in completeness(injection).recorded


def test_no_spins_is_an_answer_for_unprocessed_marrow():
    injection = Injection(product=Product.BMAC, protocol={"processing_method": "unprocessed", "spins": 0})
    assert "Centrifugation parameters" in completeness(injection).recorded

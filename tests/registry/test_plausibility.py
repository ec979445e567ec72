"""Plausible protocol values (registry.plausibility): every numeric protocol field has a unit and limits; at each
limit's boundary the hard limit refuses, the soft limit warns and asks for confirmation, and a confirmed unusual
value is saved, through the service, the web form and the API alike (and the admin). Values stored before the
limits existed stay editable."""

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry import plausibility, services
from registry.models import Injection
from registry.protocols import PROTOCOL_FORMS
from tests.factories import (
    BMAC_PROTOCOL,
    EXOSOME_PROTOCOL,
    GOVERNANCE,
    injection_data,
    make_injection,
    with_methods,
)
from tests.registry.test_admin import admin_clinician  # noqa: F401 - a fixture

BASE = {
    "bmac": dict(BMAC_PROTOCOL),
    "prp": {"leukocytes": "poor", "spins": 2, "activation": "none", "blood_volume_ml": 30},
    "ha": {"product_name": "Example HA", "molecular_weight_kda": 6000, "cross_linked": "yes", "dose_mg": 48},
    "exosome": dict(EXOSOME_PROTOCOL),
    "adsc": {
        "preparation": "microfragmented",  # enzymatic SVF would need a registered study
        "harvest_site": "abdomen",
        "lipoaspirate_volume_ml": 100,
        "processing": "mechanical",
    },
    "corticosteroid": {"drug": "triamcinolone_acetonide", "dose_mg": 40},
}


def protocol_with(product: str, field: str, value) -> dict:
    protocol = {**BASE[product], field: value}
    if product == "bmac" and field == "aspirate_volume_ml":
        protocol["concentrate_volume_ml"] = min(6, value)  # never more than the aspirate
    if product == "bmac" and field == "concentrate_volume_ml":
        protocol["aspirate_volume_ml"] = 240
    if product == "bmac" and field == "spins" and Decimal(str(value)) < 1:
        protocol["processing_method"] = "unprocessed"
    if product == "bmac" and field in ("mnc_per_ml", "cd34_per_ml"):
        protocol["tnc_per_ml"] = 2000  # never more MNC or CD34+ cells than TNC
    if product == "bmac" and field == "ml_per_pull":
        protocol["aspirate_volume_ml"] = 240  # a pull is never more than the aspirate
    if product == "bmac" and field == "ia_anaesthetic_volume_ml":
        protocol["ia_anaesthetic"] = "lidocaine"  # a volume names its anaesthetic
    if product == "prp" and field == "prp_volume_ml":
        protocol["blood_volume_ml"] = 500  # nor the PRP more than the blood drawn
    return with_methods(product, protocol)


def volume_injected(product: str, protocol: dict):
    """6 mL, or less when the protocol's aspirate or blood drawn is less (the injection is made from it)."""
    wholes = [protocol[r.whole] for r in plausibility.AT_MOST if r.product == product and r.part == "volume_ml"]
    return min([6, *(w for w in wholes if w is not None)])


def step(r: plausibility.PlausibleRange, bound) -> Decimal:
    """The smallest change the field can hold, at this bound."""
    field = PROTOCOL_FORMS[r.product].base_fields[r.field]
    if isinstance(field, forms.DecimalField):  # (Decimal and Float fields are IntegerFields to Django)
        return Decimal(10) ** -field.decimal_places
    if isinstance(field, forms.FloatField):
        return max(Decimal(str(bound)) * Decimal("0.001"), Decimal("0.001"))  # a thousandth
    return Decimal(1)


def as_sent(value: Decimal):
    return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)


@dataclass(frozen=True)
class Case:
    range: plausibility.PlausibleRange
    value: object
    acknowledge: bool
    expect: str  # "saved", "warned" (asks for confirmation, nothing saved) or "refused"


def cases(r: plausibility.PlausibleRange) -> list[Case]:
    out = []
    (hard_low, hard_high), (soft_low, soft_high) = r.hard, r.soft
    for soft, hard, sign in ((soft_low, hard_low, -1), (soft_high, hard_high, +1)):
        soft, hard = Decimal(str(soft)), Decimal(str(hard))
        beyond_hard = hard + sign * step(r, hard)
        out.append(Case(r, soft, False, "saved"))  # the usual range's own bound: no question
        if soft != hard:
            just_unusual = soft + sign * step(r, soft)
            out.append(Case(r, just_unusual, False, "warned"))
            out.append(Case(r, just_unusual, True, "saved"))
            out.append(Case(r, hard, True, "saved"))  # the possible range's own bound, confirmed
        out.append(Case(r, beyond_hard, True, "refused"))  # confirming cannot save an impossible value
    return out


@dataclass
class Outcome:
    saved: bool
    refused: set  # protocol fields refused as impossible
    warned: set  # warning codes to confirm


def _is_refusal(message: str) -> bool:
    return "possible maximum" in message or "possible minimum" in message


# --- The three entry points, each returning an Outcome ----------------------------------------------------------


def through_service(patient, clinician, product, protocol, acknowledged) -> Outcome:
    extra = {"governance": dict(GOVERNANCE)} if product == "exosome" else {}
    try:
        services.injection_record(
            patient=patient,
            by=clinician,
            data=injection_data(
                clinician=clinician,
                product=product,
                protocol=protocol,
                volume_ml=volume_injected(product, protocol),
                **extra,
            ),
            acknowledged_warnings=acknowledged,
        )
    except services.UnconfirmedWarnings as unconfirmed:
        return Outcome(False, set(), {w.code for w in unconfirmed.warnings})
    except ValidationError as error:
        messages = error.message_dict.get("protocol", [])
        return Outcome(False, {m.split(":")[0] for m in messages if _is_refusal(m)}, set())
    return Outcome(True, set(), set())


def through_web(client, patient, clinician, product, protocol, acknowledged) -> Outcome:
    from tests.registry.test_views_injections import form_data, new_url

    data = form_data(
        clinician,
        product=product,
        protocol=protocol,
        governance=GOVERNANCE if product == "exosome" else None,
        volume_ml=str(volume_injected(product, protocol)),
    )
    data["acknowledged_warnings"] = list(acknowledged)
    response = client.post(new_url(patient), data)
    if response.status_code == 302:
        return Outcome(True, set(), set())
    assert response.status_code == 200
    form = next(f["form"] for f in response.context["protocol_fieldsets"] if f["code"] == product)
    refused = {name for name, errors in form.errors.items() if any(_is_refusal(e) for e in errors)}
    warned = {item["code"] for item in response.context["unusual"]}
    for item in response.context["unusual"]:  # each shown with its confirm checkbox
        assert f'name="acknowledged_warnings" value="{item["code"]}"' in response.text
    return Outcome(False, refused, warned)


def through_api(api, patient, clinician, product, protocol, acknowledged) -> Outcome:
    from tests.registry.test_api_injections import new_injection

    body = new_injection(
        patient,
        product=product,
        protocol=protocol,
        volume_ml=volume_injected(product, protocol),
        acknowledged_warnings=list(acknowledged),
    )
    if product == "exosome":
        body["governance"] = dict(GOVERNANCE)
    response = api.post("/api/v1/injections/", json.loads(json.dumps(body, default=str)), format="json")
    if response.status_code == 201:
        return Outcome(True, set(), set())
    assert response.status_code == 400, response.json()
    errors = response.json()
    protocol_errors = errors.get("protocol", {})
    refused = {k for k, messages in protocol_errors.items() if any(_is_refusal(m) for m in messages)}
    return Outcome(False, refused, set(errors.get("acknowledged_warnings", [])))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(params=["service", "web", "api"])
def attempt(request, patient, clinician, client, api_as):
    if request.param == "service":
        return lambda product, protocol, acknowledged=(): through_service(
            patient, clinician, product, protocol, acknowledged
        )
    if request.param == "web":
        client.force_login(clinician)
        return lambda product, protocol, acknowledged=(): through_web(
            client, patient, clinician, product, protocol, acknowledged
        )
    api = api_as(clinician)
    return lambda product, protocol, acknowledged=(): through_api(
        api, patient, clinician, product, protocol, acknowledged
    )


@pytest.mark.parametrize("limits", plausibility.RANGES, ids=lambda r: f"{r.product}-{r.field}")
def test_each_limit_at_its_boundary(attempt, limits):
    """At each bound: the usual bound is saved; just past it asks for confirmation, and is saved confirmed; the
    possible bound is saved confirmed; just past that is refused even confirmed."""
    for case in cases(limits):
        r = case.range
        protocol = protocol_with(r.product, r.field, as_sent(Decimal(str(case.value))))
        # Confirm whatever else the adjusted base record makes unusual, so only the field under test decides.
        others = {w.code for w in plausibility.warnings(r.product, protocol) if w.field != r.field}
        before = Injection.objects.count()
        outcome = attempt(r.product, protocol, [*others, *([r.code] if case.acknowledge else [])])
        if case.expect == "saved":
            assert outcome == Outcome(True, set(), set()), case
        elif case.expect == "warned":
            assert outcome == Outcome(False, set(), {r.code}), case
        else:
            assert not outcome.saved, case
            assert r.field in outcome.refused, case
        assert Injection.objects.count() == before + outcome.saved


def test_every_numeric_protocol_field_has_a_range_and_every_range_a_field():
    numeric = {
        (product, name)
        for product, form_class in PROTOCOL_FORMS.items()
        for name, field in form_class.base_fields.items()
        if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField)
    }
    assert numeric == {(r.product, r.field) for r in plausibility.RANGES}
    for r in plausibility.RANGES:
        assert r.unit
        assert r.reason
        assert Decimal(str(r.hard[0])) <= Decimal(str(r.soft[0])) <= Decimal(str(r.soft[1])) <= Decimal(str(r.hard[1]))


def test_the_reported_tnc_is_refused_with_the_likely_unit_slip(patient, clinician):
    with pytest.raises(ValidationError) as caught:
        make_injection(patient, clinician, protocol={**BMAC_PROTOCOL, "tnc_per_ml": 45_000_000})
    message = " ".join(caught.value.message_dict["protocol"])
    assert "45,000,000 ×10⁶/mL is above the possible maximum of 2,000 ×10⁶/mL" in message
    assert "45 ×10⁶/mL would be usual" in message


def test_a_confirmed_value_is_named_in_the_audit_trail(patient, clinician):
    injection = make_injection(
        patient, clinician, protocol={**BMAC_PROTOCOL, "tnc_per_ml": 900}, acknowledged_warnings=["protocol.tnc_per_ml"]
    )
    assert (
        injection.history.get().history_change_reason == "Injection recorded (unusual values confirmed: tnc_per_ml 900)"
    )


# --- Documented beside the field ---------------------------------------------------------------------------------


def test_the_form_shows_each_numeric_fields_unit_and_limits(client, clinician, patient):
    from tests.registry.test_views_injections import new_url

    client.force_login(clinician)
    page = client.get(new_url(patient)).text
    for r in plausibility.RANGES:
        field_id = f"id_{r.product}-{r.field}"
        at = page.index(f'id="{field_id}"')
        assert f'<span class="unit" aria-hidden="true">{r.unit}</span>' in page[at : at + 400], r
        help_at = page.index(f'id="{field_id}_helptext"')
        assert (
            f"Usually {plausibility.number(r.soft[0])}–{plausibility.number(r.soft[1])} {r.unit}"
            in page[help_at : help_at + 400]
        )


def test_the_api_schema_documents_units_limits_and_how_to_confirm():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    schemas = schema["components"]["schemas"]
    for name in ("InjectionRequest", "PatchedInjectionUpdateRequest"):
        properties = schemas[name]["properties"]
        assert "bmac.tnc_per_ml (×10⁶/mL): usual 1-500, possible 0.1-2,000" in properties["protocol"]["description"]
        assert "prp.platelet_count (×10³/µL): usual 100-5,000" in properties["protocol"]["description"]
        assert "protocol.tnc_per_ml" in properties["acknowledged_warnings"]["description"]
    assert "acknowledged_warnings" not in schemas["Injection"]["properties"]  # write-only


def test_the_api_400_names_the_warnings_to_confirm(api_as, clinician, patient):
    from tests.registry.test_api_injections import new_injection

    api = api_as(clinician)
    body = new_injection(
        patient, protocol={**BMAC_PROTOCOL, "tnc_per_ml": 900, "mnc_per_ml": 150, "mnc_method": "flow_cytometry"}
    )
    response = api.post("/api/v1/injections/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert sorted(errors["acknowledged_warnings"]) == ["protocol.mnc_per_ml", "protocol.tnc_per_ml"]
    assert "above the usual 1–500 ×10⁶/mL" in errors["protocol"]["tnc_per_ml"][0]
    body["acknowledged_warnings"] = errors["acknowledged_warnings"]
    assert api.post("/api/v1/injections/", body, format="json").status_code == 201


# --- Values stored before the limits ----------------------------------------------------------------------------


@pytest.fixture
def legacy(patient, clinician):
    """An injection whose stored TNC the limits now refuse (written before they existed)."""
    injection = make_injection(patient, clinician)
    Injection.objects.filter(pk=injection.pk).update(protocol={**injection.protocol, "tnc_per_ml": 45_000_000})
    return Injection.objects.get(pk=injection.pk)


def test_a_stored_impossible_value_asks_for_confirmation_not_a_refusal(legacy, clinician):
    with pytest.raises(services.UnconfirmedWarnings) as caught:
        services.injection_update(injection=legacy, by=clinician, data={"volume_ml": 7}, reason="Volume typo")
    assert "Recorded before this limit existed" in str(caught.value.warnings[0])
    corrected = services.injection_update(
        injection=legacy,
        by=clinician,
        data={"volume_ml": 7},
        reason="Volume typo",
        acknowledged_warnings=["protocol.tnc_per_ml"],
    )
    assert corrected.volume_ml == 7
    assert corrected.protocol["tnc_per_ml"] == 45_000_000  # never changed behind anyone's back


def test_a_stored_impossible_value_corrected_to_another_is_refused(legacy, clinician):
    with pytest.raises(ValidationError) as caught:
        services.injection_update(
            injection=legacy,
            by=clinician,
            data={"protocol": {**legacy.protocol, "tnc_per_ml": 4_500_000}},
            reason="Fix",
            acknowledged_warnings=["protocol.tnc_per_ml"],
        )
    assert "possible maximum" in " ".join(caught.value.message_dict["protocol"])
    fixed = services.injection_update(
        injection=legacy, by=clinician, data={"protocol": {**legacy.protocol, "tnc_per_ml": 45}}, reason="Unit slip"
    )
    assert fixed.protocol["tnc_per_ml"] == 45


def test_a_stored_unusual_value_is_not_asked_about_again(patient, clinician):
    injection = make_injection(
        patient, clinician, protocol={**BMAC_PROTOCOL, "tnc_per_ml": 900}, acknowledged_warnings=["protocol.tnc_per_ml"]
    )
    corrected = services.injection_update(
        injection=injection,
        by=clinician,
        data={"protocol": {**injection.protocol, "mnc_per_ml": 20, "mnc_method": "analyser"}},
        reason="Lab",
    )
    assert corrected.protocol["mnc_per_ml"] == 20


def test_the_edit_page_of_a_legacy_record_offers_the_confirmation(client, clinician, legacy):
    from tests.registry.test_views_injections import form_data

    client.force_login(clinician)
    url = reverse("registry:injection-edit", args=[legacy.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(clinician, protocol=legacy.protocol, volume_ml="7", reason="Volume typo")
    for key in ("knee", "product", "planned_injections", "number_in_plan"):
        data.pop(key)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Recorded before this limit existed" in response.text
    assert 'name="acknowledged_warnings" value="protocol.tnc_per_ml"' in response.text
    response = client.post(url, {**data, "acknowledged_warnings": "protocol.tnc_per_ml"})
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert str(legacy.volume_ml) == "7.0"


def test_the_api_patch_of_a_legacy_record_names_the_warning(api_as, clinician, legacy):
    api = api_as(clinician)
    url = f"/api/v1/injections/{legacy.pk}/"
    response = api.patch(url, {"volume_ml": 7, "reason": "Volume typo"}, format="json")
    assert response.status_code == 400
    assert response.json()["acknowledged_warnings"] == ["protocol.tnc_per_ml"]
    response = api.patch(
        url,
        {"volume_ml": 7, "reason": "Volume typo", "acknowledged_warnings": ["protocol.tnc_per_ml"]},
        format="json",
    )
    assert response.status_code == 200, response.json()


# --- The admin ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tnc", "confirm", "saved"),
    [(500, False, True), (500.01, False, False), (500.01, True, True), (2000.01, True, False)],
)
def test_the_admin_refuses_warns_and_accepts_a_confirmed_value(client, admin_clinician, injection, tnc, confirm, saved):  # noqa: F811
    from tests.registry.test_admin import injection_admin_data

    client.force_login(admin_clinician)
    url = reverse("admin:registry_injection_change", args=[injection.pk])
    data = injection_admin_data(injection, protocol=json.dumps({**injection.protocol, "tnc_per_ml": tnc}))
    if confirm:
        data["confirm_unusual_values"] = "on"
    response = client.post(url, data)
    assert (response.status_code == 302) is saved
    injection.refresh_from_db()
    assert (injection.protocol["tnc_per_ml"] == tnc) is saved
    if not saved:
        errors = " ".join(response.context["adminform"].form.errors["protocol"])
        assert ("possible maximum" in errors) is (tnc > 2000)


def test_the_admin_edits_a_legacy_record_once_its_value_is_confirmed(client, admin_clinician, legacy):  # noqa: F811
    from tests.registry.test_admin import injection_admin_data

    client.force_login(admin_clinician)
    url = reverse("admin:registry_injection_change", args=[legacy.pk])
    data = injection_admin_data(legacy, volume_ml="7")
    assert client.post(url, data).status_code == 200
    assert client.post(url, {**data, "confirm_unusual_values": "on"}).status_code == 302
    legacy.refresh_from_db()
    assert str(legacy.volume_ml) == "7.0"

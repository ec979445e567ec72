"""A part is never recorded as more than its whole (registry.plausibility.AT_MOST): MNC not above TNC, CFU-F not
above the cells they grow from, the concentrate and the volume injected not above what was aspirated (or the
blood drawn, for PRP). Each rule refuses with an error on the part's field, through the service, the web form and
the API alike; nothing is saved, and a stored record whose pair predates the rule stays editable."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry import plausibility, services
from registry.models import Injection
from registry.protocols import PROTOCOL_FORMS
from tests.factories import GOVERNANCE, injection_data, make_injection, with_methods
from tests.registry.test_plausibility import BASE

VOLUME = plausibility.VOLUME_INJECTED


def record(rule: plausibility.AtMost, whole: Decimal, part: Decimal) -> tuple[dict, Decimal]:
    """(protocol, volume injected) with ``part`` and ``whole`` set and every other value usual."""
    protocol = {**BASE[rule.product]}
    volume = Decimal("2")
    protocol[rule.whole] = as_sent(whole)
    if rule.part == VOLUME:
        volume = part
    else:
        protocol[rule.part] = as_sent(part)
    if rule.product == "bmac":
        # The rules not under test hold: the whole's own whole is large, and nothing else exceeds it.
        protocol.setdefault("tnc_per_ml", 2000)
        if rule.whole != "aspirate_volume_ml":
            protocol["aspirate_volume_ml"] = 240
        if rule.part != "concentrate_volume_ml":
            protocol["concentrate_volume_ml"] = min(6, protocol["aspirate_volume_ml"])
    if rule.product == "prp" and rule.whole != "blood_volume_ml":
        protocol["blood_volume_ml"] = 60
    return with_methods(rule.product, protocol), volume


def as_sent(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


def cases() -> list:
    out = []
    for rule in plausibility.AT_MOST:
        # Inside the whole's possible range, and its product with the scale inside the part's.
        whole = Decimal("0.5") if rule.scale > 1 else Decimal("20")
        limit = whole * rule.scale
        out.append(pytest.param(rule, whole, limit, True, id=f"{rule.product}-{rule.part}-equal-{rule.whole}"))
        out.append(pytest.param(rule, whole, limit + 1, False, id=f"{rule.product}-{rule.part}-above-{rule.whole}"))
    return out


def _governance(product: str) -> dict:
    return {"governance": dict(GOVERNANCE)} if product == "exosome" else {}


def through_service(patient, clinician, product, protocol, volume):
    try:
        services.injection_record(
            patient=patient,
            by=clinician,
            data=injection_data(
                clinician=clinician, product=product, protocol=protocol, volume_ml=volume, **_governance(product)
            ),
            acknowledged_warnings=[r.code for r in plausibility.RANGES],
        )
    except ValidationError as error:
        errors = error.message_dict
        refused = {m.split(":")[0] for m in errors.get("protocol", []) if "cannot exceed" in m}
        return (
            False,
            refused | ({VOLUME} if VOLUME in errors else set()),
            " ".join(m for ms in errors.values() for m in ms),
        )
    return True, set(), ""


def through_web(client, patient, clinician, product, protocol, volume):
    from tests.registry.test_views_injections import form_data, new_url

    data = form_data(clinician, product=product, protocol=protocol, volume_ml=str(volume), **_governance(product))
    data["acknowledged_warnings"] = [r.code for r in plausibility.RANGES]
    response = client.post(new_url(patient), data)
    if response.status_code == 302:
        return True, set(), ""
    assert response.status_code == 200
    form = next(f["form"] for f in response.context["protocol_fieldsets"] if f["code"] == product)
    refused = {name for name, errors in form.errors.items() if any("cannot exceed" in e for e in errors)}
    if any("cannot exceed" in e for e in response.context["form"].errors.get(VOLUME, [])):
        refused.add(VOLUME)
    return False, refused, response.text


def through_api(api, patient, clinician, product, protocol, volume):
    from tests.registry.test_api_injections import new_injection

    body = new_injection(
        patient,
        product=product,
        protocol=protocol,
        volume_ml=str(volume),
        acknowledged_warnings=[r.code for r in plausibility.RANGES],
        **_governance(product),
    )
    response = api.post("/api/v1/injections/", json.loads(json.dumps(body, default=str)), format="json")
    if response.status_code == 201:
        return True, set(), ""
    assert response.status_code == 400, response.content
    errors = response.json()
    refused = {k for k, messages in errors.get("protocol", {}).items() if any("cannot exceed" in m for m in messages)}
    if any("cannot exceed" in m for m in errors.get(VOLUME, [])):
        refused.add(VOLUME)
    return False, refused, json.dumps(errors, ensure_ascii=False)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(params=["service", "web", "api"])
def attempt(request, patient, clinician, client, api_as):
    if request.param == "service":
        return lambda *args: through_service(patient, clinician, *args)
    if request.param == "web":
        client.force_login(clinician)
        return lambda *args: through_web(client, patient, clinician, *args)
    api = api_as(clinician)
    return lambda *args: through_api(api, patient, clinician, *args)


@pytest.mark.parametrize(("rule", "whole", "part", "allowed"), cases())
def test_a_part_may_equal_its_whole_and_never_exceed_it(attempt, rule, whole, part, allowed):
    protocol, volume = record(rule, whole, part)
    before = Injection.objects.count()
    saved, refused, text = attempt(rule.product, protocol, volume)
    assert saved is allowed, text
    assert Injection.objects.count() == before + saved
    if not allowed:
        assert refused == {rule.part}, text  # the error sits on the part's own field, and only there
        assert plausibility.number(whole) in text  # says what it may not exceed


def test_mnc_above_tnc_is_refused_with_a_clear_field_error(client, clinician, patient):
    """MNC 40 with TNC 35.5 (both millions per mL): a field error, what was typed shown again, nothing saved."""
    from tests.registry.test_views_injections import form_data, new_url

    client.force_login(clinician)
    protocol = {**BASE["bmac"], "tnc_per_ml": 35.5, "mnc_per_ml": 40}
    response = client.post(new_url(patient), form_data(clinician, protocol=protocol))
    assert response.status_code == 200
    form = next(f["form"] for f in response.context["protocol_fieldsets"] if f["code"] == "bmac")
    assert form.errors["mnc_per_ml"] == [
        "MNC cannot exceed the TNC of 35.5 ×10⁶/mL: mononuclear cells are some of the nucleated cells."
    ]
    assert 'value="40"' in response.text  # the typed values survive
    assert 'value="35.5"' in response.text
    assert not Injection.objects.exists()


def test_the_api_names_the_volume_injected_above_the_blood_drawn(api_as, clinician, patient):
    from tests.registry.test_api_injections import new_injection

    body = new_injection(patient, product="prp", protocol={**BASE["prp"], "blood_volume_ml": 8}, volume_ml=10)
    response = api_as(clinician).post("/api/v1/injections/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "volume_ml": ["Volume injected cannot exceed the 8 mL of blood drawn: PRP is a fraction of that blood."]
    }
    assert not Injection.objects.exists()


def test_each_part_says_what_it_may_not_exceed_beside_the_field():
    help_text = PROTOCOL_FORMS["bmac"].base_fields["mnc_per_ml"].help_text
    assert "Not more than the TNC (×10⁶/mL)." in help_text
    assert (
        "Not more than the TNC (×10⁶/mL) × 1,000,000." in PROTOCOL_FORMS["bmac"].base_fields["cfu_f_per_ml"].help_text
    )
    assert "Not more than the aspirate volume (mL)." in (
        PROTOCOL_FORMS["bmac"].base_fields["concentrate_volume_ml"].help_text
    )


def test_every_rule_names_fields_that_exist():
    for rule in plausibility.AT_MOST:
        fields = PROTOCOL_FORMS[rule.product].base_fields
        for name in (rule.part, rule.whole):
            assert name == VOLUME or name in fields, (rule, name)


# --- Records stored before a rule existed ----------------------------------------------------------------------


@pytest.fixture
def legacy(patient, clinician):
    """An injection stored with MNC above TNC and more injected than aspirated (before the rules existed)."""
    injection = make_injection(patient, clinician)
    Injection.objects.filter(pk=injection.pk).update(
        protocol={**injection.protocol, "tnc_per_ml": 20, "mnc_per_ml": 30}, volume_ml=Decimal("70")
    )
    return Injection.objects.get(pk=injection.pk)


def test_a_stored_pair_is_not_judged_by_a_correction_that_keeps_it(legacy, clinician):
    corrected = services.injection_update(
        injection=legacy, by=clinician, data={"guidance": "landmark"}, reason="Guidance was landmark"
    )
    assert corrected.guidance == "landmark"
    assert corrected.protocol["mnc_per_ml"] == 30  # never changed behind anyone's back
    assert corrected.volume_ml == 70


def test_a_correction_that_changes_a_pair_is_judged(legacy, clinician):
    with pytest.raises(ValidationError) as caught:
        services.injection_update(
            injection=legacy,
            by=clinician,
            data={"protocol": {**legacy.protocol, "mnc_per_ml": 25}},
            reason="Lab report",
        )
    assert "mnc_per_ml: MNC cannot exceed the TNC of 20 ×10⁶/mL" in " ".join(caught.value.message_dict["protocol"])
    with pytest.raises(ValidationError) as caught:
        services.injection_update(injection=legacy, by=clinician, data={"volume_ml": 65}, reason="Typo")
    assert caught.value.message_dict["volume_ml"][0].startswith("Volume injected cannot exceed the aspirate volume")
    legacy.refresh_from_db()
    assert (legacy.protocol["mnc_per_ml"], legacy.volume_ml) == (30, 70)  # nothing stored lost


def test_the_edit_page_keeps_a_stored_pair_editable(client, clinician, legacy):
    from tests.registry.test_views_injections import form_data

    client.force_login(clinician)
    url = reverse("registry:injection-edit", args=[legacy.pk])
    data = form_data(clinician, protocol=legacy.protocol, volume_ml="70", guidance="landmark", reason="Guidance")
    for key in ("knee", "product", "planned_injections", "number_in_plan"):
        data.pop(key)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    legacy.refresh_from_db()
    assert legacy.guidance == "landmark"


def test_the_api_schema_lists_every_rule():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    description = schema["components"]["schemas"]["InjectionRequest"]["properties"]["protocol"]["description"]
    assert "bmac: mnc_per_ml <= tnc_per_ml" in description
    assert "bmac: cfu_f_per_ml <= tnc_per_ml x 1,000,000" in description
    assert "prp: volume_ml <= blood_volume_ml" in description

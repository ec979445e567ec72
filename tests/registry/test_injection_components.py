"""Injections made of components (issue 15): BMAC with PRP, HA with PRP... each with its protocol, volume, route
and site; component 1 is the principal product the plan and follow-ups are grouped by."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from registry import services
from registry.models import Injection, InjectionComponent
from tests.factories import BMAC_PROTOCOL, PRP_PROTOCOL, injection_data, make_injection

BMAC_IA = {"product": "bmac", "route": "intra_articular", "site": "superolateral", "volume_ml": 6,
           "protocol": dict(BMAC_PROTOCOL)}  # fmt: skip
PRP_IA = {"product": "prp", "route": "intra_articular", "volume_ml": 4, "protocol": dict(PRP_PROTOCOL)}
BMAC_TIBIA = {"product": "bmac", "route": "intraosseous_tibial", "site": "medial tibial plateau", "volume_ml": 3,
              "protocol": dict(BMAC_PROTOCOL)}  # fmt: skip


def test_a_combined_injection_keeps_each_component_and_names_them_all(patient, clinician):
    injection = make_injection(patient, clinician, components=[BMAC_IA, PRP_IA, BMAC_TIBIA])

    components = list(injection.components.order_by("position"))
    assert [(c.position, c.product, c.route) for c in components] == [
        (1, "bmac", "intra_articular"),
        (2, "prp", "intra_articular"),
        (3, "bmac", "intraosseous_tibial"),
    ]
    assert components[1].protocol["platelet_count"] == 1200
    assert components[2].site == "medial tibial plateau"
    assert injection.products_label == "BMAC + PRP"
    assert injection.total_volume_ml == Decimal("13")
    assert "BMAC + PRP, injected" in Injection.objects.get(pk=injection.pk).staff_label


def test_the_principal_product_is_component_1_and_mirrored_on_the_injection(patient, clinician):
    data = injection_data(clinician=clinician)
    for name in ("product", "protocol", "volume_ml"):  # given in the components only
        del data[name]
    injection = services.injection_record(patient=patient, by=clinician, data=data, components=[PRP_IA, BMAC_TIBIA])
    injection.refresh_from_db()
    assert (injection.product, injection.plan.product) == ("prp", "prp")
    assert injection.protocol == PRP_PROTOCOL
    assert injection.volume_ml == Decimal("4")


def test_a_principal_product_other_than_component_1_is_refused(patient, clinician):
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, components=[PRP_IA, BMAC_IA], product="bmac")
    assert "component 1" in err.value.message_dict["product"][0]
    assert not Injection.objects.exists()
    assert not InjectionComponent.objects.exists()


def test_the_older_single_product_request_is_one_intra_articular_component(patient, clinician):
    injection = make_injection(patient, clinician)
    (component,) = injection.components.all()
    assert (component.position, component.product, component.route) == (1, "bmac", "intra_articular")
    assert component.protocol == injection.protocol
    assert component.volume_ml == injection.volume_ml == Decimal("6")


@pytest.mark.parametrize("product", ["ha", "corticosteroid", "saline"])
def test_intraosseous_delivery_is_refused_for_products_not_given_into_bone(patient, clinician, product):
    protocols = {
        "ha": {"product_name": "Durolane", "molecular_weight_kda": 6000, "cross_linked": "yes", "dose_mg": 60},
        "corticosteroid": {"drug": "triamcinolone_acetonide", "dose_mg": 40},
        "saline": {"purpose": "control"},
    }
    other = {"product": product, "route": "intraosseous_femoral", "volume_ml": 2, "protocol": protocols[product]}
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, components=[BMAC_IA, other])
    message = " ".join(err.value.message_dict["components"])
    assert "Component 2" in message
    assert "not given intraosseously" in message
    assert not Injection.objects.exists()


def test_intraosseous_route_of_the_principal_product_is_checked_too(patient, clinician):
    with pytest.raises(ValidationError) as err:
        make_injection(
            patient,
            clinician,
            product="ha",
            volume_ml=2,
            protocol={"product_name": "Durolane", "molecular_weight_kda": 6000, "cross_linked": "yes", "dose_mg": 60},
            components=[
                {"product": "ha", "route": "intraosseous_tibial", "volume_ml": 2,
                 "protocol": {"product_name": "Durolane", "molecular_weight_kda": 6000, "cross_linked": "yes",
                              "dose_mg": 60}},
            ],
        )  # fmt: skip
    assert "intraosseously" in err.value.message_dict["route"][0]


def test_a_hard_limit_in_a_second_component_refuses_and_saves_nothing(patient, clinician):
    impossible = {**PRP_IA, "protocol": {**PRP_PROTOCOL, "platelet_count": 30_000}}
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, components=[BMAC_IA, impossible])
    assert "Component 2 (PRP), protocol: platelet_count" in " ".join(err.value.message_dict["components"])
    assert not Injection.objects.exists()


def test_a_component_volume_above_its_own_blood_draw_is_refused(patient, clinician):
    too_much = {**PRP_IA, "volume_ml": 40}  # from 30 mL of blood
    with pytest.raises(ValidationError) as err:
        make_injection(patient, clinician, components=[BMAC_IA, too_much])
    assert "30 mL of blood drawn" in " ".join(err.value.message_dict["components"])


def test_an_unusual_value_in_a_second_component_asks_for_its_own_confirmation(patient, clinician):
    unusual = {**PRP_IA, "protocol": {**PRP_PROTOCOL, "platelet_count": 6_000}}
    with pytest.raises(services.UnconfirmedWarnings) as err:
        make_injection(patient, clinician, components=[BMAC_IA, unusual])
    assert [w.code for w in err.value.warnings] == ["components.2.protocol.platelet_count"]
    assert not Injection.objects.exists()
    # Confirming component 1's field of the same name would not do: each component confirms its own.
    with pytest.raises(services.UnconfirmedWarnings):
        make_injection(
            patient, clinician, components=[BMAC_IA, unusual], acknowledged_warnings=["protocol.platelet_count"]
        )

    injection = make_injection(
        patient,
        clinician,
        components=[BMAC_IA, unusual],
        acknowledged_warnings=["components.2.protocol.platelet_count"],
    )
    assert injection.components.get(position=2).protocol["platelet_count"] == 6_000
    assert "component 2 platelet_count 6,000" in injection.history.get().history_change_reason


def test_a_correction_adds_and_removes_components_with_an_audit_row_each(patient, clinician):
    injection = make_injection(patient, clinician)

    services.injection_update(
        injection=injection, by=clinician, data={}, components=[BMAC_IA, PRP_IA], reason="PRP was given too"
    )
    added = InjectionComponent.objects.get(injection=injection, position=2)
    assert added.history.get().history_change_reason == "PRP was given too"
    assert injection.components.get(position=1).site == "superolateral"

    services.injection_update(injection=injection, by=clinician, data={}, components=[BMAC_IA], reason="Typed twice")
    assert list(injection.components.values_list("position", flat=True)) == [1]
    removed = InjectionComponent.history.filter(id=added.pk, history_type="-").get()
    assert (removed.history_change_reason, removed.history_user) == ("Typed twice", clinician)


def test_the_principal_product_cannot_change_in_a_correction(patient, clinician):
    injection = make_injection(patient, clinician)
    with pytest.raises(ValidationError) as err:
        services.injection_update(injection=injection, by=clinician, data={}, components=[PRP_IA], reason="x")
    assert "Cannot change once recorded" in err.value.message_dict["product"][0]


def test_a_correction_in_the_older_shape_changes_component_1_and_keeps_the_others(patient, clinician):
    injection = make_injection(patient, clinician, components=[BMAC_IA, PRP_IA])
    services.injection_update(
        injection=injection,
        by=clinician,
        data={"volume_ml": Decimal("5"), "protocol": {**BMAC_PROTOCOL, "tnc_per_ml": 40}},
        reason="Lab report arrived",
    )
    principal, prp = injection.components.order_by("position")
    assert (principal.volume_ml, principal.protocol["tnc_per_ml"]) == (Decimal("5"), 40)
    assert principal.site == "superolateral"
    assert prp.protocol == PRP_PROTOCOL
    assert prp.history.count() == 1  # unchanged, so no audit row claims it changed

"""Combined injections on the clinician pages (issue 15): adding a product without JavaScript, recording and
correcting it, and reading each component with its route, site, volume and protocol."""

from decimal import Decimal

import pytest
from django.urls import reverse

from registry.models import Injection, InjectionComponent
from tests.factories import BMAC_PROTOCOL, PRP_PROTOCOL, PatientFactory, make_injection
from tests.registry.test_views_injections import form_data, new_url

PRP_IA = {"product": "prp", "route": "intra_articular", "volume_ml": 4, "protocol": dict(PRP_PROTOCOL)}
BMAC_TIBIA = {"product": "bmac", "route": "intraosseous_tibial", "site": "medial tibial plateau", "volume_ml": 3,
              "protocol": dict(BMAC_PROTOCOL)}  # fmt: skip


@pytest.fixture
def writer(client, clinician):
    client.force_login(clinician)
    return client


def component_data(position: int, product: str, protocol: dict, **fields) -> dict:
    prefix = f"component-{position}"
    data = {f"{prefix}-product": product, **{f"{prefix}-{k}": str(v) for k, v in fields.items()}}
    data.update({f"{prefix}-{product}-{k}": str(v) for k, v in protocol.items()})
    return data


def test_add_another_product_rerenders_with_one_more_and_keeps_everything_typed(writer, patient, clinician):
    data = form_data(clinician, route="intra_articular", site="superolateral", add_component="1")
    response = writer.post(new_url(patient), data)

    assert response.status_code == 200
    assert not Injection.objects.exists()
    text = response.text
    assert 'name="extra_components" value="1"' in text
    assert 'name="component-2-product"' in text
    assert 'name="component-2-prp-platelet_count"' in text
    assert 'value="superolateral"' in text  # the principal product's site
    assert 'value="35.5"' in text  # the principal product's TNC
    assert 'value="27.5"' in text  # BMI
    assert 'class="errorlist' not in text  # nothing judged yet

    again = writer.post(new_url(patient), {**data, "extra_components": "1"})
    assert 'name="component-3-product"' in again.text


def test_a_combined_injection_is_recorded_from_the_page(writer, patient, clinician):
    data = {
        **form_data(clinician, route="intra_articular", site="superolateral", extra_components="2"),
        **component_data(2, "prp", PRP_PROTOCOL, route="intra_articular", volume_ml="4"),
        **component_data(3, "bmac", BMAC_PROTOCOL, route="intraosseous_tibial", site="medial tibial plateau",
                         volume_ml="3"),
    }  # fmt: skip
    response = writer.post(new_url(patient), data)

    assert response.status_code == 302, response.context["errors"]
    injection = Injection.objects.get()
    assert [(c.position, c.product, c.route, c.site, c.volume_ml) for c in injection.components.all()] == [
        (1, "bmac", "intra_articular", "superolateral", Decimal("6")),
        (2, "prp", "intra_articular", "", Decimal("4")),
        (3, "bmac", "intraosseous_tibial", "medial tibial plateau", Decimal("3")),
    ]
    assert injection.components.get(position=2).protocol["platelet_count"] == 1200


def test_a_product_row_left_empty_records_nothing_and_no_error(writer, patient, clinician):
    data = {**form_data(clinician, extra_components="1"), "component-2-route": "intra_articular"}
    assert writer.post(new_url(patient), data).status_code == 302
    assert InjectionComponent.objects.count() == 1


def test_an_unusual_value_in_product_2_is_shown_beside_it_and_confirmed_there(writer, patient, clinician):
    unusual = {**PRP_PROTOCOL, "platelet_count": 6000}
    data = {
        **form_data(clinician, extra_components="1"),
        **component_data(2, "prp", unusual, route="intra_articular", volume_ml="4"),
    }
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    assert not Injection.objects.exists()
    assert 'value="components.2.protocol.platelet_count"' in response.text
    assert "Product 2: PRP platelets" in response.text

    confirmed = writer.post(new_url(patient), {**data, "acknowledged_warnings": "components.2.protocol.platelet_count"})
    assert confirmed.status_code == 302
    assert Injection.objects.get().components.get(position=2).protocol["platelet_count"] == 6000


def test_intraosseous_saline_is_refused_with_its_reason_on_the_page(writer, patient, clinician):
    data = {
        **form_data(clinician, extra_components="1"),
        **component_data(2, "saline", {"purpose": "control"}, route="intraosseous_femoral", volume_ml="2"),
    }
    response = writer.post(new_url(patient), data)
    assert response.status_code == 200
    assert "not given intraosseously" in response.text
    assert not Injection.objects.exists()


def test_detail_names_the_combination_and_shows_each_component(writer, patient, clinician):
    injection = make_injection(
        patient,
        clinician,
        components=[{"product": "bmac", "route": "intra_articular", "site": "superolateral", "volume_ml": 6,
                     "protocol": dict(BMAC_PROTOCOL)}, PRP_IA, BMAC_TIBIA],
    )  # fmt: skip
    response = writer.get(reverse("registry:injection-detail", args=[injection.pk]))
    text = response.text
    assert "<h1>BMAC + PRP, left knee</h1>" in text
    assert "Intraosseous (tibial)" in text
    assert "medial tibial plateau" in text
    assert "13.0 mL in all" in text or "13 mL in all" in text
    assert "Leukocyte-poor" in text  # product 2's protocol, by its label


def test_correcting_shows_the_stored_products_and_audits_a_change_to_one(writer, patient, clinician):
    injection = make_injection(patient, clinician, components=[
        {"product": "bmac", "route": "intra_articular", "volume_ml": 6, "protocol": dict(BMAC_PROTOCOL)}, PRP_IA,
    ])  # fmt: skip
    url = reverse("registry:injection-edit", args=[injection.pk])
    page = writer.get(url)
    assert 'name="component-2-product"' in page.text
    assert 'name="extra_components" value="1"' in page.text

    data = form_data(clinician, extra_components="1", reason="Volume re-read from the chart")
    for fixed in ("knee", "product", "planned_injections", "number_in_plan"):
        data.pop(fixed)
    data.update(component_data(2, "prp", PRP_PROTOCOL, route="periarticular", volume_ml="3.5"))
    assert writer.post(url, data).status_code == 302
    prp = injection.components.get(position=2)
    assert (prp.route, prp.volume_ml) == ("periarticular", Decimal("3.5"))

    history = writer.get(reverse("registry:injection-detail", args=[injection.pk])).text
    assert "Product 2: Route" in history
    assert "Periarticular" in history
    assert "Volume re-read from the chart" in history


def test_patient_page_lists_combined_injections_without_a_query_per_injection(
    writer, clinician, clinic, django_assert_max_num_queries
):
    patient = PatientFactory(clinic=clinic)
    principal = {"product": "bmac", "route": "intra_articular", "volume_ml": 6, "protocol": dict(BMAC_PROTOCOL)}
    make_injection(patient, clinician, components=[principal, PRP_IA])
    url = reverse("registry:patient-detail", args=[patient.registry_number])
    with django_assert_max_num_queries(100) as one:
        assert "BMAC + PRP" in writer.get(url).text
    for knee in ("right",):
        make_injection(patient, clinician, knee=knee, components=[principal, PRP_IA])
    with django_assert_max_num_queries(len(one.captured_queries)):
        text = writer.get(url).text
    assert text.count("BMAC + PRP") >= 2

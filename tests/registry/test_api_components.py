"""The API's `components`: an injection of several products recorded and corrected in one request, with the same
checks as the web form; the older single-product request still works."""

from django.contrib.auth import get_user_model

from registry.models import Injection
from tests.factories import BMAC_PROTOCOL, PRP_PROTOCOL, PatientFactory, make_injection
from tests.registry.test_api_injections import URL, detail, new_injection

User = get_user_model()
BMAC_IA = {"product": "bmac", "route": "intra_articular", "site": "superolateral", "volume_ml": 6,
           "protocol": dict(BMAC_PROTOCOL)}  # fmt: skip
PRP_IA = {"product": "prp", "volume_ml": 4, "protocol": dict(PRP_PROTOCOL)}


def _components_only(patient, *components, **extra) -> dict:
    body = new_injection(patient, components=list(components), **extra)
    for name in ("product", "protocol", "volume_ml"):
        body.pop(name)
    return body


def test_an_injection_of_two_products_is_recorded_and_read_back(api_as, clinician, patient):
    response = api_as(clinician).post(URL, _components_only(patient, BMAC_IA, PRP_IA), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["product"] == "bmac"
    assert body["volume_ml"] == 6.0
    assert body["total_volume_ml"] == 10.0
    assert [(c["position"], c["product"], c["route"]) for c in body["components"]] == [
        (1, "bmac", "intra_articular"),
        (2, "prp", "intra_articular"),
    ]
    assert body["components"][1]["protocol"]["platelet_count"] == 1200
    assert Injection.objects.get().components.count() == 2


def test_the_older_request_shape_is_one_component(api_as, clinician, patient):
    response = api_as(clinician).post(URL, new_injection(patient), format="json")
    assert response.status_code == 201, response.json()
    (component,) = response.json()["components"]
    assert (component["product"], component["route"], component["volume_ml"]) == ("bmac", "intra_articular", 6.0)


def test_a_product_other_than_component_1_is_a_400_naming_it(api_as, clinician, patient):
    body = {**_components_only(patient, BMAC_IA), "product": "prp"}
    response = api_as(clinician).post(URL, body, format="json")
    assert response.status_code == 400
    assert "component 1" in response.json()["product"][0]
    assert not Injection.objects.exists()


def test_without_product_or_components_the_product_is_required(api_as, clinician, patient):
    body = new_injection(patient)
    del body["product"]
    response = api_as(clinician).post(URL, body, format="json")
    assert response.status_code == 400
    assert "product" in response.json()


def test_intraosseous_hyaluronic_acid_is_a_400(api_as, clinician, patient):
    ha = {"product": "ha", "route": "intraosseous_tibial", "volume_ml": 2,
          "protocol": {"product_name": "Durolane", "molecular_weight": "high", "dose_mg": 60}}  # fmt: skip
    response = api_as(clinician).post(URL, _components_only(patient, BMAC_IA, ha), format="json")
    assert response.status_code == 400
    assert "not given intraosseously" in " ".join(response.json()["components"])


def test_an_unusual_value_in_component_2_is_confirmed_by_its_own_code(api_as, clinician, patient):
    unusual = {**PRP_IA, "protocol": {**PRP_PROTOCOL, "platelet_count": 6000}}
    client = api_as(clinician)
    refused = client.post(URL, _components_only(patient, BMAC_IA, unusual), format="json")
    assert refused.status_code == 400
    assert refused.json()["acknowledged_warnings"] == ["components.2.protocol.platelet_count"]
    assert not Injection.objects.exists()

    body = _components_only(patient, BMAC_IA, unusual, acknowledged_warnings=refused.json()["acknowledged_warnings"])
    accepted = client.post(URL, body, format="json")
    assert accepted.status_code == 201, accepted.json()


def test_a_correction_adds_a_component_with_its_reason(api_as, clinician, patient):
    injection = make_injection(patient, clinician)
    response = api_as(clinician).patch(
        detail(injection), {"components": [BMAC_IA, PRP_IA], "reason": "PRP given too"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert [c["product"] for c in response.json()["components"]] == ["bmac", "prp"]
    assert injection.components.get(position=2).history.get().history_change_reason == "PRP given too"


def test_listing_combined_injections_costs_the_same_queries_for_more_rows(
    api, clinician, patient, django_assert_max_num_queries
):
    make_injection(patient, clinician, components=[BMAC_IA, PRP_IA])
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with django_assert_max_num_queries(50) as one_row:
        assert api.get(URL).json()["count"] == 1
    for _ in range(9):
        make_injection(PatientFactory(clinic=patient.clinic), clinician, components=[BMAC_IA, PRP_IA])
    api.force_authenticate(User.objects.get(pk=clinician.pk))
    with django_assert_max_num_queries(len(one_row.captured_queries)):
        body = api.get(URL).json()
    assert {len(row["components"]) for row in body["results"]} == {2}

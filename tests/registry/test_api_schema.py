import pytest
import yaml
from django.core.management import call_command


@pytest.fixture
def schema(db, tmp_path) -> dict:
    path = tmp_path / "schema.yml"
    # --fail-on-warn: any warning (an unresolvable field, an enum name collision) fails the build.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_and_documents_the_registry_api(schema):
    paths = schema["paths"]
    assert set(paths["/api/v1/clinics/"]) == {"get", "post"}
    assert set(paths["/api/v1/clinics/{id}/"]) == {"get"}
    assert set(paths["/api/v1/patients/"]) == {"get", "post"}
    assert set(paths["/api/v1/patients/{id}/"]) == {"get", "patch"}  # no PUT, no DELETE
    assert set(paths["/api/v1/patients/{id}/withdraw-consent/"]) == {"post"}
    assert set(paths["/api/v1/injections/"]) == {"get", "post"}
    assert set(paths["/api/v1/injections/{id}/"]) == {"get", "patch"}
    assert paths["/api/v1/patients/"]["get"]["operationId"] == "patients_list"
    assert paths["/api/v1/injections/"]["get"]["tags"] == ["injections"]


def _ref(operation, kind="requestBody") -> str:
    if kind == "requestBody":
        return operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return operation["responses"][kind]["content"]["application/json"]["schema"]["$ref"]


def test_schema_names_request_and_response_components(schema):
    paths = schema["paths"]
    components = schema["components"]["schemas"]
    patch_injection = paths["/api/v1/injections/{id}/"]["patch"]
    assert _ref(patch_injection).endswith("/PatchedInjectionUpdateRequest")
    assert _ref(patch_injection, "200").endswith("/Injection")
    assert "reason" in components["PatchedInjectionUpdateRequest"]["properties"]
    withdraw = paths["/api/v1/patients/{id}/withdraw-consent/"]["post"]
    assert _ref(withdraw).endswith("/WithdrawConsentRequest")
    assert _ref(withdraw, "200").endswith("/Patient")
    assert _ref(paths["/api/v1/patients/"]["get"], "200").endswith("/PaginatedPatientList")
    injection = components["Injection"]["properties"]
    assert injection["protocol_completeness"]["allOf"][0]["$ref"].endswith("/ProtocolCompleteness")
    assert injection["protocol_completeness"]["readOnly"] is True
    assert injection["status"]["$ref"].endswith("/InjectionStatusEnum")
    assert injection["protocol"]["type"] == "object"
    assert components["Patient"]["properties"]["registry_number"]["readOnly"] is True
    assert set(components["WithdrawalDecisionEnum"]["enum"]) == {"retain", "erase_contact"}


def test_list_filters_are_documented(schema):
    def names(path):
        return {p["name"] for p in schema["paths"][path]["get"]["parameters"]}

    assert {
        "clinic",
        "registry_number",
        "sex",
        "year_of_birth_min",
        "year_of_birth_max",
        "withdrawn",
        "q",
        "limit",
        "offset",
    } <= names("/api/v1/patients/")
    assert {
        "patient",
        "clinic",
        "product",
        "knee",
        "status",
        "kl_grade",
        "injected_after",
        "injected_before",
        "harvest_site",
        "processing_method",
        "staged",
        "limit",
        "offset",
    } <= names("/api/v1/injections/")


def test_schema_and_docs_are_served(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200

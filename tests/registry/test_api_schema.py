import pytest
import yaml
from django.core.management import call_command
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView


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


def _statuses(schema, path, method) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_error_statuses_are_documented_only_where_they_can_happen(schema):
    # Every operation needs a signed-in user with a role: 401 and 403 everywhere.
    for address, operations in schema["paths"].items():
        for method in operations:
            assert {"401", "403"} <= _statuses(schema, address, method), (method, address)
            assert "429" not in _statuses(schema, address, method)  # nothing is throttled
    # 400 only where there is input: a body, or validated query parameters.
    assert _statuses(schema, "/api/v1/patients/", "get") == {"200", "400", "401", "403"}  # filters; no 404
    assert _statuses(schema, "/api/v1/patients/", "post") == {"201", "400", "401", "403", "415"}  # JSON only
    assert _statuses(schema, "/api/v1/patients/{id}/", "get") == {"200", "401", "403", "404"}
    assert _statuses(schema, "/api/v1/patients/{id}/", "patch") == {"200", "400", "401", "403", "404", "415"}
    assert _statuses(schema, "/api/v1/instruments/", "get") == {"200", "401", "403"}  # no input, no address
    assert "400" in _statuses(schema, "/api/v1/outcomes/summary/", "get")  # its filters are declared by hand
    assert "409" in _statuses(schema, "/api/v1/adverse-events/{id}/", "patch")


def test_error_bodies_have_drfs_shapes(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert components["Error"]["properties"]["detail"]["type"] == "string"
    field_messages = components["ValidationError"]["additionalProperties"]["oneOf"]
    assert {"array", "object"} == {option["type"] for option in field_messages}
    responses = schema["paths"]["/api/v1/patients/{id}/"]["patch"]["responses"]
    assert _schema_of(responses["404"]) == {"$ref": "#/components/schemas/Error"}
    assert _schema_of(responses["400"])["oneOf"] == [
        {"$ref": "#/components/schemas/ValidationError"},
        {"$ref": "#/components/schemas/Error"},
    ]
    # A status a view declares with only a description keeps it and gains the body.
    score = schema["paths"]["/api/v1/instruments/{code}/score/"]["post"]["responses"]
    assert score["404"]["description"] == "No such instrument (or version)."
    assert _schema_of(score["404"]) == {"$ref": "#/components/schemas/Error"}


def _schema_of(response) -> dict:
    return response["content"]["application/json"]["schema"]


class _Open(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({})


class _Throttled(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UserRateThrottle]

    def get(self, request):
        return Response({})


def test_anonymous_views_get_no_401_and_throttled_views_get_429(db):
    generator = SchemaGenerator(patterns=[path("open/", _Open.as_view()), path("throttled/", _Throttled.as_view())])
    paths = generator.get_schema(request=None, public=True)["paths"]
    assert not {"401", "403"} & set(paths["/open/"]["get"]["responses"])
    assert {"401", "403", "429"} <= set(paths["/throttled/"]["get"]["responses"])

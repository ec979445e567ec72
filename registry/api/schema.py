"""The OpenAPI schema documents the error statuses each operation can really answer, with DRF's body shapes.

drf-spectacular documents only success responses. Every API view here requires a signed-in user with a role, so
401 and 403 are possible everywhere; 404 only where the path names a resource (lists answer an unknown filter id
with an empty page, not a 404); 400 only where there is input to reject: a request body, or query parameters that
are validated (list filters, limit and offset, the summary's filters); 415 on writes, whose bodies are JSON only.
A correction's always-required fields (``required_even_when_partial``) are marked required in its PATCH body.
An error status a view declares itself (with ``extend_schema(responses=...)``) keeps its description and, if it
gave none, gets the matching body.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

WRITE_METHODS = {"POST", "PUT", "PATCH"}


class ErrorSerializer(serializers.Serializer):
    """DRF's body for every error but a validation error (and for a request body that cannot be parsed)."""

    detail = serializers.CharField()

    class Meta:
        ref_name = "Error"


# DRF's ValidationError body: field name -> messages, "non_field_errors" for the request as a whole. A nested
# serializer nests the same shape (an object), a list of nested objects gives one entry per item.
VALIDATION_ERROR = {
    "type": "object",
    "description": "Messages by field name; `non_field_errors` for the request as a whole. A nested object nests "
    "the same shape.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
        ]
    },
}

DESCRIPTIONS = {
    "400": "The input is invalid: messages by field (or `detail` when the body cannot be parsed).",
    "401": "Not signed in: no API token or session, or an unknown token.",
    "403": "Signed in, but without a role in any clinic, or in a session that still owes its second factor.",
    "403-write": "Signed in, but without a role that may change this (none, or a read-only one in the record's "
    "clinic), in a session that still owes its second factor, or a session request without its CSRF token.",
    "404": "Nothing with this address among the records the user may see (another clinic's records answer the "
    "same as missing ones).",
    "415": "The body is not JSON: send it with `Content-Type: application/json`.",
    "429": "Too many requests; retry later.",
}


class RegistryAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        # drf-spectacular marks nothing required in a PATCH body; a correction's reason (and the version it
        # corrects) are, whatever else changes (registry.api.mixins.RequiredEvenWhenPartialMixin).
        schema = super()._map_basic_serializer(serializer, direction)
        always = getattr(serializer, "required_even_when_partial", ())
        if direction == "request" and always:
            schema["required"] = sorted({*schema.get("required", []), *always})
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_statuses():
            declared = responses.get(code)
            if declared is None:
                responses[code] = self._error_response(code, self._description(code))
            elif "content" not in declared:  # declared with a description only: add the body it has
                responses[code] = {**self._error_response(code, ""), **declared}
        return dict(sorted(responses.items()))

    def _description(self, code: str) -> str:
        if code == "403" and self.method in WRITE_METHODS:
            return DESCRIPTIONS["403-write"]
        return DESCRIPTIONS[code]

    def _error_statuses(self) -> list[str]:
        codes = []
        if self._has_input():
            codes.append("400")
        if self._requires_sign_in():
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITE_METHODS:
            codes.append("415")  # JSON is the only body the API parses
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _has_input(self) -> bool:
        if self.method in WRITE_METHODS:
            return True
        if self._get_filter_parameters() or (self._is_list_view() and self._get_paginator()):
            return True  # a list's filters, limit and offset are validated
        return any(
            isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
            for p in self.get_override_parameters()
        )

    def _requires_sign_in(self) -> bool:
        # drf-spectacular adds an empty requirement ({}) where the permissions let an anonymous user in.
        return {} not in self.get_auth()

    def _error_response(self, code: str, description: str) -> dict:
        # A 400 is a validation error by field, or {"detail": ...} when the body cannot be parsed at all.
        schema = {"oneOf": [self._validation_error_ref(), self._error_ref()]} if code == "400" else self._error_ref()
        return {"content": {"application/json": {"schema": schema}}, "description": description}

    def _error_ref(self) -> dict:
        return self.resolve_serializer(ErrorSerializer, "response").ref

    def _validation_error_ref(self) -> dict:
        component = ResolvedComponent(
            name="ValidationError", type=ResolvedComponent.SCHEMA, object="ValidationError", schema=VALIDATION_ERROR
        )
        self.registry.register_on_missing(component)
        return component.ref
